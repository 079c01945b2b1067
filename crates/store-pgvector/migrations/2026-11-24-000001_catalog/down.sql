DROP TABLE collections;
DROP TABLE api_keys;
DROP TABLE tenants;
DROP SCHEMA vectors CASCADE;
