DROP TABLE IF EXISTS attribute_keys;
