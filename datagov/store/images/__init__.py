"""Image versions in the image layout (encoded bytes plus feature columns,
in Parquet parts), and WebDataset tar shards turned into it: `tar` (the
strict tar reader), `webdataset` (the sample rules), `columns` (decoding
into column buffers, in workers), `writer` (the Parquet parts) and `render`
(shards to parts, in worker processes). Ingest uses them to copy shards and
images; the store uses them to render shards registered in place when a
version is used, which is why they live here, below the catalog."""
