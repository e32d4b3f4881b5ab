-- Base models registered once under a name: their files are snapshotted into the blob store at registration,
-- so federations can name the model instead of a directory that must stay on the coordinator's disk.
CREATE TABLE base_models (
    name           text        PRIMARY KEY CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$'),
    source_path    text        NOT NULL,
    weights_blob   char(64)    NOT NULL REFERENCES blobs (sha256),
    size_bytes     bigint      NOT NULL CHECK (size_bytes >= 0),
    registered_at  timestamptz NOT NULL DEFAULT now()
);

-- The auxiliary files sent to clients with the weights (config.json, tokenizer files).
CREATE TABLE base_model_files (
    model_name   text     NOT NULL REFERENCES base_models (name),
    name         text     NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    blob_sha256  char(64) NOT NULL REFERENCES blobs (sha256),
    PRIMARY KEY (model_name, name)
);

-- A federation names its base model either by directory path or by registered name, never both.
ALTER TABLE federations ADD COLUMN base_model text REFERENCES base_models (name);
ALTER TABLE federations ALTER COLUMN base_model_path DROP NOT NULL;
ALTER TABLE federations ADD CONSTRAINT federations_one_base_model
    CHECK ((base_model_path IS NULL) <> (base_model IS NULL));
