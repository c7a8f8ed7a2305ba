// Command composecheck resolves a Compose file the way Docker Compose v2 does, with
// compose-go (the loader `docker compose` itself uses), and prints the resolved
// project as JSON: variables interpolated, paths resolved, defaults applied, and the
// model validated against the Compose specification. It exits non-zero with
// compose-go's message when the file does not load.
//
// Usage: composecheck -file docker-compose.yaml  (environment and .env as for `docker compose`)
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/compose-spec/compose-go/v2/cli"
)

func main() {
	file := flag.String("file", "docker-compose.yaml", "Compose file to load")
	flag.Parse()

	path, err := filepath.Abs(*file)
	if err != nil {
		fail(err)
	}
	options, err := cli.NewProjectOptions(
		[]string{path},
		cli.WithWorkingDirectory(filepath.Dir(path)),
		cli.WithOsEnv,
		cli.WithDotEnv,
		cli.WithConfigFileEnv,
		cli.WithDefaultProfiles(),
		cli.WithResolvedPaths(true),
		cli.WithInterpolation(true),
		cli.WithNormalization(true),
		cli.WithConsistency(true),
	)
	if err != nil {
		fail(err)
	}
	project, err := options.LoadProject(context.Background())
	if err != nil {
		fail(err)
	}
	out, err := project.MarshalJSON()
	if err != nil {
		fail(err)
	}
	if _, err := os.Stdout.Write(out); err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "composecheck:", err)
	os.Exit(1)
}
