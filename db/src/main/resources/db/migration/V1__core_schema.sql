-- fedlora coordinator state. Invariants live here as constraints, not only in Java.

-- Content-addressed blobs (tensor files under the coordinator's data directory). A row exists only
-- once the file is durable; rows referencing a blob keep it alive.
CREATE TABLE blobs (
    sha256      char(64)    PRIMARY KEY CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    size_bytes  bigint      NOT NULL CHECK (size_bytes >= 0),
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE federations (
    id                      uuid             PRIMARY KEY,
    name                    text             NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 200),
    base_model_path         text             NOT NULL,
    target_modules          jsonb            NOT NULL CHECK (jsonb_typeof(target_modules) = 'array'),
    rank                    integer          NOT NULL CHECK (rank > 0),
    alpha                   double precision NOT NULL CHECK (alpha > 0),
    use_rslora              boolean          NOT NULL,
    strategy                text             NOT NULL CHECK (strategy IN ('fedex', 'fedit', 'ffa')),
    weighting               text             NOT NULL CHECK (weighting IN ('examples', 'uniform')),
    rounds                  integer          NOT NULL CHECK (rounds > 0),
    clients_fraction        double precision NOT NULL CHECK (clients_fraction > 0 AND clients_fraction <= 1),
    clients_minimum         integer          NOT NULL CHECK (clients_minimum > 0),
    round_deadline_seconds  integer          NOT NULL CHECK (round_deadline_seconds > 0),
    min_clients             integer          NOT NULL CHECK (min_clients > 0),
    max_round_retries       integer          NOT NULL CHECK (max_round_retries >= 0),
    evaluate                boolean          NOT NULL,
    training                jsonb            NOT NULL CHECK (jsonb_typeof(training) = 'object'),
    max_update_norm         double precision NOT NULL CHECK (max_update_norm > 0),
    -- the base model as loaded at creation: every tensor (original dtype) in one blob
    base_blob_sha256        char(64)         NOT NULL REFERENCES blobs (sha256),
    -- the LoRA layers resolved from target_modules: [{module, dOut, dIn, layout}]
    lora_layers             jsonb            NOT NULL CHECK (jsonb_typeof(lora_layers) = 'array'),
    -- a leading "transformer." on base keys, restored on export
    key_prefix              text             NOT NULL DEFAULT '',
    status                  text             NOT NULL
        CHECK (status IN ('CREATED', 'RUNNING', 'PAUSED', 'COMPLETED', 'CANCELLED', 'FAILED')),
    status_reason           text,
    current_round           integer          NOT NULL DEFAULT 0 CHECK (current_round >= 0),
    created_at              timestamptz      NOT NULL DEFAULT now(),
    updated_at              timestamptz      NOT NULL DEFAULT now(),
    started_at              timestamptz,
    ended_at                timestamptz
);

-- Auxiliary files of the base model directory (config.json, tokenizer files) sent to clients.
CREATE TABLE federation_files (
    federation_id  uuid     NOT NULL REFERENCES federations (id) ON DELETE CASCADE,
    name           text     NOT NULL CHECK (name ~ '^[A-Za-z0-9._-]+$'),
    blob_sha256    char(64) NOT NULL REFERENCES blobs (sha256),
    PRIMARY KEY (federation_id, name)
);

CREATE TABLE clients (
    id                    uuid        PRIMARY KEY,
    federation_id         uuid        NOT NULL REFERENCES federations (id) ON DELETE CASCADE,
    name                  text        NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    labels                jsonb       NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(labels) = 'object'),
    -- sha256 (hex) of the bearer credential; the credential itself is never stored
    credential_hash       char(64)    NOT NULL UNIQUE,
    enrolled_at           timestamptz NOT NULL DEFAULT now(),
    revoked_at            timestamptz,
    last_heartbeat        timestamptz,
    state                 text,
    device                text,
    cached_model_version  bigint,
    UNIQUE (federation_id, name)
);

CREATE TABLE enrolment_tokens (
    id             uuid        PRIMARY KEY,
    federation_id  uuid        NOT NULL REFERENCES federations (id) ON DELETE CASCADE,
    -- sha256 (hex) of the token; the token is shown once at issue
    token_hash     char(64)    NOT NULL UNIQUE,
    created_at     timestamptz NOT NULL DEFAULT now(),
    expires_at     timestamptz NOT NULL,
    used_at        timestamptz,
    used_by        uuid        REFERENCES clients (id),
    revoked_at     timestamptz,
    CHECK ((used_at IS NULL) = (used_by IS NULL))
);

-- One row per attempt of a round. Round 0 (when the federation evaluates) is the evaluation of the
-- initial model and goes straight to EVALUATING.
CREATE TABLE rounds (
    id              bigserial   PRIMARY KEY,
    federation_id   uuid        NOT NULL REFERENCES federations (id) ON DELETE CASCADE,
    number          integer     NOT NULL CHECK (number >= 0),
    attempt         integer     NOT NULL CHECK (attempt >= 1),
    status          text        NOT NULL
        CHECK (status IN ('SELECTING', 'COLLECTING', 'AGGREGATING', 'EVALUATING', 'PUBLISHED',
                          'RETRIED', 'FAILED', 'CANCELLED')),
    -- version clients train from (number - 1)
    base_version    bigint      NOT NULL CHECK (base_version >= 0),
    deadline        timestamptz,
    eval_deadline   timestamptz,
    reason          text,
    bytes_down      bigint      NOT NULL DEFAULT 0 CHECK (bytes_down >= 0),
    created_at      timestamptz NOT NULL DEFAULT now(),
    started_at      timestamptz,
    collecting_at   timestamptz,
    aggregating_at  timestamptz,
    evaluating_at   timestamptz,
    ended_at        timestamptz,
    UNIQUE (federation_id, number, attempt)
);
-- at most one live attempt per round number
CREATE UNIQUE INDEX rounds_one_live_attempt ON rounds (federation_id, number)
    WHERE status NOT IN ('RETRIED', 'FAILED', 'CANCELLED');

CREATE TABLE round_participants (
    round_id     bigint      NOT NULL REFERENCES rounds (id) ON DELETE CASCADE,
    client_id    uuid        NOT NULL REFERENCES clients (id),
    status       text        NOT NULL CHECK (status IN ('SELECTED', 'REPORTED', 'MISSED')),
    selected_at  timestamptz NOT NULL DEFAULT now(),
    reported_at  timestamptz,
    PRIMARY KEY (round_id, client_id),
    CHECK ((status = 'REPORTED') = (reported_at IS NOT NULL))
);

CREATE TABLE updates (
    id                  uuid             PRIMARY KEY,
    round_id            bigint           NOT NULL,
    client_id           uuid             NOT NULL,
    upload_id           text             NOT NULL CHECK (length(upload_id) BETWEEN 1 AND 200),
    -- safetensors blob holding every <module>.lora_A / lora_B tensor of the update
    blob_sha256         char(64)         NOT NULL REFERENCES blobs (sha256),
    -- sha256 over the tensors' bytes in header order, as the client declared and we verified
    upload_sha256       char(64),
    num_examples        bigint           NOT NULL CHECK (num_examples > 0),
    base_model_version  bigint           NOT NULL CHECK (base_model_version >= 0),
    bytes_received      bigint           NOT NULL CHECK (bytes_received >= 0),
    metrics             jsonb            NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(metrics) = 'object'),
    status              text             NOT NULL CHECK (status IN ('ACCEPTED', 'AGGREGATED', 'DISCARDED')),
    created_at          timestamptz      NOT NULL DEFAULT now(),
    FOREIGN KEY (round_id, client_id) REFERENCES round_participants (round_id, client_id) ON DELETE CASCADE,
    UNIQUE (client_id, round_id, upload_id)
);
-- one accepted update per client per round attempt
CREATE UNIQUE INDEX updates_one_accepted_per_client ON updates (round_id, client_id)
    WHERE status IN ('ACCEPTED', 'AGGREGATED');

-- Immutable published global states. Version 0 is the base model plus the initial adapter.
CREATE TABLE model_versions (
    id               bigserial   PRIMARY KEY,
    federation_id    uuid        NOT NULL REFERENCES federations (id) ON DELETE CASCADE,
    version          bigint      NOT NULL CHECK (version >= 0),
    round_id         bigint      REFERENCES rounds (id),
    -- <module>.lora_A / lora_B of the global adapter
    adapter_blob     char(64)    NOT NULL REFERENCES blobs (sha256),
    -- the target base weights with every residual up to this version folded in (original keys)
    weights_blob     char(64)    NOT NULL REFERENCES blobs (sha256),
    -- the residual of this version against the previous one (NULL for version 0)
    residual_blob    char(64)    REFERENCES blobs (sha256),
    residual_kind    text        NOT NULL CHECK (residual_kind IN ('NONE', 'FACTORS', 'DENSE', 'MIXED')),
    created_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (federation_id, version),
    CHECK ((version = 0) = (round_id IS NULL)),
    CHECK ((residual_kind = 'NONE') = (residual_blob IS NULL))
);

CREATE FUNCTION model_versions_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'model version % of federation % is immutable', OLD.version, OLD.federation_id;
END;
$$;
CREATE TRIGGER model_versions_no_update BEFORE UPDATE ON model_versions
    FOR EACH ROW EXECUTE FUNCTION model_versions_immutable();

-- Aggregate metrics of a round attempt; per-client figures live in updates.metrics and evaluations.
CREATE TABLE round_metrics (
    round_id               bigint           PRIMARY KEY REFERENCES rounds (id) ON DELETE CASCADE,
    num_clients            integer          NOT NULL CHECK (num_clients >= 0),
    total_examples         bigint           NOT NULL CHECK (total_examples >= 0),
    exactness_rel_error    double precision,
    fedavg_deviation_rel   double precision,
    per_layer              jsonb            NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(per_layer) = 'object'),
    aggregate_ms           bigint           CHECK (aggregate_ms >= 0),
    bytes_up               bigint           NOT NULL DEFAULT 0 CHECK (bytes_up >= 0),
    train_loss             double precision,
    eval_loss              double precision,
    eval_accuracy          double precision,
    eval_examples          bigint,
    created_at             timestamptz      NOT NULL DEFAULT now()
);

-- Federated evaluation assignments and their results (example-weighted into round_metrics).
CREATE TABLE evaluations (
    round_id        bigint           NOT NULL REFERENCES rounds (id) ON DELETE CASCADE,
    client_id       uuid             NOT NULL REFERENCES clients (id),
    model_version   bigint           NOT NULL CHECK (model_version >= 0),
    status          text             NOT NULL CHECK (status IN ('PENDING', 'REPORTED', 'MISSED')),
    num_examples    bigint           CHECK (num_examples >= 0),
    loss            double precision,
    accuracy        double precision,
    metrics         jsonb            NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(metrics) = 'object'),
    assigned_at     timestamptz      NOT NULL DEFAULT now(),
    reported_at     timestamptz,
    PRIMARY KEY (round_id, client_id),
    CHECK ((status = 'REPORTED') = (reported_at IS NOT NULL))
);

CREATE TABLE audit_log (
    id             bigserial   PRIMARY KEY,
    at             timestamptz NOT NULL DEFAULT now(),
    actor          text        NOT NULL,
    action         text        NOT NULL,
    federation_id  uuid        REFERENCES federations (id) ON DELETE SET NULL,
    target         text,
    details        jsonb       NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(details) = 'object')
);

CREATE INDEX clients_federation ON clients (federation_id);
CREATE INDEX rounds_federation ON rounds (federation_id, number);
CREATE INDEX updates_round ON updates (round_id);
CREATE INDEX evaluations_client ON evaluations (client_id);
CREATE INDEX audit_log_federation ON audit_log (federation_id, at);
