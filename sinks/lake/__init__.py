"""The lake's object layout and the write-ahead ledger of the S3 sink."""
