-- Baseline ERP schema: companies and users, reference masters, the ledger, stock, sales,
-- and an audit trail of every row change in the business schemas.
-- Runs as the tenant's owner role, so every object is owned by it and picks up the
-- default privileges the TenantDatabase component declares (app: read/write, no DDL;
-- readonly: SELECT; audit: SELECT only for the app).
-- tenantdb: lock_timeout=5s statement_timeout=2min

-- migrate:up

CREATE TABLE masters.currencies (
    code        char(3) PRIMARY KEY CHECK (code ~ '^[A-Z]{3}$'),
    name        text NOT NULL,
    minor_units smallint NOT NULL DEFAULT 2 CHECK (minor_units BETWEEN 0 AND 4)
);

CREATE TABLE masters.units (
    code text PRIMARY KEY CHECK (code ~ '^[a-z0-9_]{1,16}$'),
    name text NOT NULL,
    kind text NOT NULL CHECK (kind IN ('count', 'mass', 'length', 'volume', 'time'))
);

CREATE TABLE core.companies (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code          text NOT NULL UNIQUE CHECK (code ~ '^[A-Z0-9_]{1,16}$'),
    name          text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    base_currency char(3) NOT NULL REFERENCES masters.currencies (code),
    created_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE core.users (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    company_id    bigint NOT NULL REFERENCES core.companies (id),
    email         text NOT NULL CHECK (email ~ '^[^@\s]+@[^@\s]+$'),
    display_name  text NOT NULL,
    -- PHC-style "scrypt$N$r$p$salt$hash"; never the clear password (see src/migrate/password.ts).
    password_hash text NOT NULL CHECK (password_hash LIKE 'scrypt$%'),
    role          text NOT NULL CHECK (role IN ('admin', 'accountant', 'clerk', 'viewer')),
    is_active     boolean NOT NULL DEFAULT true,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_email_key ON core.users (lower(email));

CREATE TABLE masters.items (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    company_id bigint NOT NULL REFERENCES core.companies (id),
    sku        text NOT NULL,
    name       text NOT NULL,
    unit_code  text NOT NULL REFERENCES masters.units (code),
    is_stocked boolean NOT NULL DEFAULT true,
    sale_price numeric(18, 4) NOT NULL DEFAULT 0 CHECK (sale_price >= 0),
    UNIQUE (company_id, sku)
);
-- Item search by partial name (pg_trgm is installed in public by the component).
CREATE INDEX items_name_trgm ON masters.items USING gin (name public.gin_trgm_ops);

CREATE TABLE masters.customers (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    company_id    bigint NOT NULL REFERENCES core.companies (id),
    code          text NOT NULL,
    name          text NOT NULL,
    email         text,
    currency_code char(3) NOT NULL REFERENCES masters.currencies (code),
    credit_limit  numeric(18, 2) NOT NULL DEFAULT 0 CHECK (credit_limit >= 0),
    UNIQUE (company_id, code)
);

CREATE TABLE finance.accounts (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    company_id  bigint NOT NULL REFERENCES core.companies (id),
    code        text NOT NULL,
    name        text NOT NULL,
    type        text NOT NULL CHECK (type IN ('asset', 'liability', 'equity', 'income', 'expense')),
    parent_id   bigint REFERENCES finance.accounts (id),
    is_postable boolean NOT NULL DEFAULT true,
    UNIQUE (company_id, code)
);

CREATE TABLE finance.journal_entries (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    company_id    bigint NOT NULL REFERENCES core.companies (id),
    entry_date    date NOT NULL DEFAULT current_date,
    reference     text,
    memo          text,
    currency_code char(3) NOT NULL REFERENCES masters.currencies (code),
    status        text NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'posted')),
    created_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE finance.journal_lines (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    entry_id   bigint NOT NULL REFERENCES finance.journal_entries (id) ON DELETE CASCADE,
    account_id bigint NOT NULL REFERENCES finance.accounts (id),
    debit      numeric(18, 2) NOT NULL DEFAULT 0 CHECK (debit >= 0),
    credit     numeric(18, 2) NOT NULL DEFAULT 0 CHECK (credit >= 0),
    memo       text,
    -- A line is either a debit or a credit, never both, never zero.
    CONSTRAINT journal_lines_one_side CHECK ((debit > 0) <> (credit > 0))
);
CREATE INDEX journal_lines_entry ON finance.journal_lines (entry_id);

-- Double entry: the debits of an entry equal its credits. Checked at commit (deferred),
-- so the lines of an entry can be inserted one by one inside a transaction.
CREATE FUNCTION finance.check_entry_balance() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    entry bigint;
    debits numeric;
    credits numeric;
BEGIN
    FOREACH entry IN ARRAY ARRAY[CASE WHEN TG_OP <> 'INSERT' THEN OLD.entry_id END,
                                 CASE WHEN TG_OP <> 'DELETE' THEN NEW.entry_id END] LOOP
        CONTINUE WHEN entry IS NULL;
        SELECT coalesce(sum(debit), 0), coalesce(sum(credit), 0) INTO debits, credits
          FROM finance.journal_lines WHERE entry_id = entry;
        IF debits <> credits THEN
            RAISE EXCEPTION 'journal entry % is unbalanced: debits % <> credits %', entry, debits, credits
                USING ERRCODE = 'check_violation';
        END IF;
    END LOOP;
    RETURN NULL;
END
$$;
CREATE CONSTRAINT TRIGGER journal_entry_balanced
    AFTER INSERT OR UPDATE OR DELETE ON finance.journal_lines
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION finance.check_entry_balance();

CREATE TABLE inventory.warehouses (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    company_id bigint NOT NULL REFERENCES core.companies (id),
    code       text NOT NULL,
    name       text NOT NULL,
    UNIQUE (company_id, code)
);

CREATE TABLE inventory.stock_moves (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    company_id   bigint NOT NULL REFERENCES core.companies (id),
    item_id      bigint NOT NULL REFERENCES masters.items (id),
    warehouse_id bigint NOT NULL REFERENCES inventory.warehouses (id),
    -- Positive quantities enter the warehouse, negative ones leave it.
    quantity     numeric(18, 4) NOT NULL CHECK (quantity <> 0),
    unit_cost    numeric(18, 4) NOT NULL DEFAULT 0 CHECK (unit_cost >= 0),
    reference    text,
    moved_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX stock_moves_item_warehouse ON inventory.stock_moves (item_id, warehouse_id);

CREATE TABLE sales.orders (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    company_id    bigint NOT NULL REFERENCES core.companies (id),
    customer_id   bigint NOT NULL REFERENCES masters.customers (id),
    order_number  text NOT NULL,
    order_date    date NOT NULL DEFAULT current_date,
    currency_code char(3) NOT NULL REFERENCES masters.currencies (code),
    status        text NOT NULL DEFAULT 'draft'
                  CHECK (status IN ('draft', 'confirmed', 'shipped', 'invoiced', 'cancelled')),
    UNIQUE (company_id, order_number)
);

CREATE TABLE sales.order_lines (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    order_id   bigint NOT NULL REFERENCES sales.orders (id) ON DELETE CASCADE,
    line_no    integer NOT NULL CHECK (line_no > 0),
    item_id    bigint NOT NULL REFERENCES masters.items (id),
    quantity   numeric(18, 4) NOT NULL CHECK (quantity > 0),
    unit_price numeric(18, 4) NOT NULL CHECK (unit_price >= 0),
    UNIQUE (order_id, line_no)
);

-- The audit trail. Append-only for the application (it only has SELECT here); rows arrive
-- through the SECURITY DEFINER trigger below, which runs as the owner role.
CREATE TABLE audit.log (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    occurred_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
    schema_name    text NOT NULL,
    table_name     text NOT NULL,
    operation      text NOT NULL CHECK (operation IN ('INSERT', 'UPDATE', 'DELETE')),
    old_row        jsonb,
    new_row        jsonb,
    -- The database role that made the change, and the ERP user if the application set
    -- `tenantdb.actor` for its transaction (SET LOCAL tenantdb.actor = '...').
    db_role        text NOT NULL DEFAULT session_user,
    app_user       text,
    transaction_id bigint NOT NULL DEFAULT txid_current()
);
CREATE INDEX log_table_time ON audit.log (schema_name, table_name, occurred_at);

-- Fixed search_path: a SECURITY DEFINER function must not resolve names through a path
-- the caller controls. Password hashes never reach the trail, which the app can read.
CREATE FUNCTION audit.record_change() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    old_row jsonb;
    new_row jsonb;
BEGIN
    IF TG_OP <> 'INSERT' THEN old_row := to_jsonb(OLD) - 'password_hash'; END IF;
    IF TG_OP <> 'DELETE' THEN new_row := to_jsonb(NEW) - 'password_hash'; END IF;
    INSERT INTO audit.log (schema_name, table_name, operation, old_row, new_row, db_role, app_user)
    VALUES (TG_TABLE_SCHEMA, TG_TABLE_NAME, TG_OP, old_row, new_row, session_user,
            nullif(current_setting('tenantdb.actor', true), ''));
    RETURN NULL;
END
$$;
REVOKE EXECUTE ON FUNCTION audit.record_change() FROM PUBLIC;

-- Later migrations call `SELECT audit.track('schema.table')` for each new business table.
CREATE FUNCTION audit.track(target regclass) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    EXECUTE format('CREATE TRIGGER audit_row_change AFTER INSERT OR UPDATE OR DELETE ON %s '
                   'FOR EACH ROW EXECUTE FUNCTION audit.record_change()', target);
END
$$;
REVOKE EXECUTE ON FUNCTION audit.track(regclass) FROM PUBLIC;

SELECT audit.track(table_oid)
  FROM unnest(ARRAY[
      'masters.currencies', 'masters.units', 'core.companies', 'core.users', 'masters.items',
      'masters.customers', 'finance.accounts', 'finance.journal_entries', 'finance.journal_lines',
      'inventory.warehouses', 'inventory.stock_moves', 'sales.orders', 'sales.order_lines'
  ]::regclass[]) AS table_oid;

-- migrate:down

DROP FUNCTION audit.track(regclass);
DROP TABLE audit.log, sales.order_lines, sales.orders, inventory.stock_moves, inventory.warehouses,
    finance.journal_lines, finance.journal_entries, finance.accounts, masters.customers,
    masters.items, core.users, core.companies, masters.units, masters.currencies;
DROP FUNCTION audit.record_change(), finance.check_entry_balance();
