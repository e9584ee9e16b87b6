-- Reference rows every tenant starts with: currencies (ISO 4217) and units of measure.
-- Idempotent: rows that already exist (e.g. added by the tenant) are left as they are.
-- tenantdb: lock_timeout=5s statement_timeout=1min

-- migrate:up

INSERT INTO masters.currencies (code, name, minor_units) VALUES
    ('USD', 'US Dollar', 2),
    ('EUR', 'Euro', 2),
    ('GBP', 'Pound Sterling', 2),
    ('INR', 'Indian Rupee', 2),
    ('JPY', 'Yen', 0),
    ('CHF', 'Swiss Franc', 2),
    ('AUD', 'Australian Dollar', 2),
    ('CAD', 'Canadian Dollar', 2)
ON CONFLICT (code) DO NOTHING;

INSERT INTO masters.units (code, name, kind) VALUES
    ('pcs', 'Piece', 'count'),
    ('box', 'Box', 'count'),
    ('kg', 'Kilogram', 'mass'),
    ('g', 'Gram', 'mass'),
    ('m', 'Metre', 'length'),
    ('l', 'Litre', 'volume'),
    ('h', 'Hour', 'time')
ON CONFLICT (code) DO NOTHING;

-- migrate:down

DELETE FROM masters.units WHERE code IN ('pcs', 'box', 'kg', 'g', 'm', 'l', 'h');
DELETE FROM masters.currencies WHERE code IN ('USD', 'EUR', 'GBP', 'INR', 'JPY', 'CHF', 'AUD', 'CAD');
