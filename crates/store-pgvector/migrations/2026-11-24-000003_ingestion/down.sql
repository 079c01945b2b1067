DROP TABLE vector_store_files;
DROP TABLE file_batches;
