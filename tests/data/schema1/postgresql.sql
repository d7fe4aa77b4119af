

CREATE FUNCTION gs_schema1.groupsync_append_only() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN RAISE EXCEPTION '% is append-only', TG_TABLE_NAME; END $$;

CREATE FUNCTION gs_schema1.groupsync_count_write() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN PERFORM nextval('write_count_seq'); RETURN NULL; END $$;

CREATE TABLE gs_schema1.access (
    ukey text NOT NULL,
    account_id text NOT NULL,
    clients text NOT NULL,
    scheduling text NOT NULL,
    notes text NOT NULL,
    billing text NOT NULL,
    claims text NOT NULL,
    codes text NOT NULL,
    reports text NOT NULL,
    practice_setup text NOT NULL,
    account_access text NOT NULL,
    CONSTRAINT access_account_access_check CHECK ((account_access = ANY (ARRAY['full'::text, 'view'::text, 'none'::text]))),
    CONSTRAINT access_billing_check CHECK ((billing = ANY (ARRAY['full'::text, 'view'::text, 'none'::text]))),
    CONSTRAINT access_claims_check CHECK ((claims = ANY (ARRAY['full'::text, 'view'::text, 'none'::text]))),
    CONSTRAINT access_clients_check CHECK ((clients = ANY (ARRAY['full'::text, 'view'::text, 'none'::text]))),
    CONSTRAINT access_codes_check CHECK ((codes = ANY (ARRAY['full'::text, 'view'::text, 'none'::text]))),
    CONSTRAINT access_notes_check CHECK ((notes = ANY (ARRAY['full'::text, 'view'::text, 'none'::text]))),
    CONSTRAINT access_practice_setup_check CHECK ((practice_setup = ANY (ARRAY['full'::text, 'view'::text, 'none'::text]))),
    CONSTRAINT access_reports_check CHECK ((reports = ANY (ARRAY['full'::text, 'view'::text, 'none'::text]))),
    CONSTRAINT access_scheduling_check CHECK ((scheduling = ANY (ARRAY['full'::text, 'view'::text, 'none'::text])))
);

CREATE TABLE gs_schema1.accounts (
    account_id text NOT NULL,
    provider_name text NOT NULL,
    signup_username text NOT NULL,
    practice_name text,
    tin text,
    bills_electronically integer DEFAULT 0 NOT NULL,
    created_at text NOT NULL,
    trial_ends text
);

CREATE TABLE gs_schema1.audit (
    id bigint NOT NULL,
    revision integer NOT NULL,
    at text NOT NULL,
    actor text NOT NULL,
    action text NOT NULL,
    type text NOT NULL,
    account text,
    username text,
    detail text NOT NULL
);

CREATE SEQUENCE gs_schema1.audit_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE gs_schema1.audit_id_seq OWNED BY gs_schema1.audit.id;

CREATE TABLE gs_schema1.codes (
    account_id text NOT NULL,
    file text NOT NULL,
    key text NOT NULL,
    description text DEFAULT ''::text NOT NULL,
    fee text DEFAULT ''::text NOT NULL,
    payer_id text DEFAULT ''::text NOT NULL,
    claims text DEFAULT ''::text NOT NULL
);

CREATE TABLE gs_schema1.login_failures (
    ukey text NOT NULL,
    failures integer NOT NULL,
    locked_until double precision NOT NULL
);

CREATE TABLE gs_schema1.meta (
    key text NOT NULL,
    value text NOT NULL
);

CREATE TABLE gs_schema1.notices (
    id bigint NOT NULL,
    sent_at text NOT NULL,
    practice_name text NOT NULL,
    tin text NOT NULL,
    providers text NOT NULL
);

CREATE SEQUENCE gs_schema1.notices_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE gs_schema1.notices_id_seq OWNED BY gs_schema1.notices.id;

CREATE TABLE gs_schema1.usernames (
    ukey text NOT NULL,
    username text NOT NULL,
    home text NOT NULL,
    password_hash text NOT NULL,
    created_at text NOT NULL
);

CREATE SEQUENCE gs_schema1.write_count_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER TABLE ONLY gs_schema1.audit ALTER COLUMN id SET DEFAULT nextval('gs_schema1.audit_id_seq'::regclass);

ALTER TABLE ONLY gs_schema1.notices ALTER COLUMN id SET DEFAULT nextval('gs_schema1.notices_id_seq'::regclass);

INSERT INTO gs_schema1.access VALUES ('jsmith', '100482', 'full', 'full', 'full', 'full', 'full', 'full', 'full', 'full', 'full');
INSERT INTO gs_schema1.access VALUES ('rjones', '100517', 'full', 'full', 'full', 'full', 'full', 'full', 'full', 'full', 'full');
INSERT INTO gs_schema1.access VALUES ('mgarcia', '100533', 'full', 'full', 'full', 'full', 'full', 'full', 'full', 'full', 'full');
INSERT INTO gs_schema1.access VALUES ('dchen', '100561', 'full', 'full', 'full', 'full', 'full', 'full', 'full', 'full', 'full');
INSERT INTO gs_schema1.access VALUES ('billing', '100482', 'view', 'none', 'none', 'full', 'full', 'view', 'view', 'none', 'none');
INSERT INTO gs_schema1.access VALUES ('billing', '100517', 'view', 'none', 'none', 'full', 'full', 'view', 'view', 'none', 'none');
INSERT INTO gs_schema1.access VALUES ('billing', '100533', 'view', 'none', 'none', 'full', 'view', 'view', 'view', 'none', 'none');
INSERT INTO gs_schema1.access VALUES ('billing', '100561', 'view', 'none', 'none', 'full', 'full', 'view', 'view', 'none', 'none');
INSERT INTO gs_schema1.access VALUES ('frontdesk', '100482', 'view', 'full', 'none', 'none', 'none', 'none', 'none', 'none', 'none');
INSERT INTO gs_schema1.access VALUES ('frontdesk', '100517', 'view', 'full', 'none', 'none', 'none', 'none', 'none', 'none', 'none');
INSERT INTO gs_schema1.access VALUES ('frontdesk', '100533', 'view', 'full', 'none', 'none', 'none', 'none', 'none', 'none', 'none');
INSERT INTO gs_schema1.access VALUES ('frontdesk', '100561', 'view', 'full', 'none', 'none', 'none', 'none', 'none', 'none', 'none');
INSERT INTO gs_schema1.access VALUES ('riverside-admin', '100482', 'full', 'full', 'full', 'full', 'full', 'full', 'full', 'full', 'full');
INSERT INTO gs_schema1.access VALUES ('riverside-admin', '100517', 'full', 'full', 'full', 'full', 'full', 'full', 'full', 'full', 'full');
INSERT INTO gs_schema1.access VALUES ('riverside-admin', '100533', 'full', 'full', 'full', 'full', 'full', 'full', 'full', 'full', 'full');
INSERT INTO gs_schema1.access VALUES ('riverside-admin', '100561', 'full', 'full', 'full', 'full', 'full', 'full', 'full', 'full', 'full');

INSERT INTO gs_schema1.accounts VALUES ('100482', 'Jane Smith, PhD', 'jsmith', 'Riverside Counseling Group', '12-3456789', 1, '2026-11-27T02:28:14Z', '2026-12-27');
INSERT INTO gs_schema1.accounts VALUES ('100517', 'Robert Jones, LCSW', 'rjones', 'Riverside Counseling Group', '12-3456789', 1, '2026-11-27T02:28:14Z', '2026-12-27');
INSERT INTO gs_schema1.accounts VALUES ('100533', 'Maria Garcia, LMFT', 'mgarcia', 'Riverside Counseling Group', '12-3456789', 0, '2026-11-27T02:28:14Z', '2026-12-27');
INSERT INTO gs_schema1.accounts VALUES ('100561', 'David Chen, LPC', 'dchen', 'Riverside Counseling Group', '12-3456789', 1, '2026-11-27T02:28:15Z', '2026-12-27');

INSERT INTO gs_schema1.audit VALUES (1, 1, '2026-11-27T02:28:14Z', 'jsmith', 'add', 'account', '100482', 'jsmith', '{"after": {"provider_name": "Jane Smith, PhD", "signup": "jsmith"}}');
INSERT INTO gs_schema1.audit VALUES (2, 2, '2026-11-27T02:28:14Z', 'rjones', 'add', 'account', '100517', 'rjones', '{"after": {"provider_name": "Robert Jones, LCSW", "signup": "rjones"}}');
INSERT INTO gs_schema1.audit VALUES (3, 3, '2026-11-27T02:28:15Z', 'mgarcia', 'add', 'account', '100533', 'mgarcia', '{"after": {"provider_name": "Maria Garcia, LMFT", "signup": "mgarcia"}}');
INSERT INTO gs_schema1.audit VALUES (4, 4, '2026-11-27T02:28:15Z', 'dchen', 'add', 'account', '100561', 'dchen', '{"after": {"provider_name": "David Chen, LPC", "signup": "dchen"}}');
INSERT INTO gs_schema1.audit VALUES (5, 5, '2026-11-27T02:28:15Z', 'jsmith', 'add', 'username', '100482', 'riverside-admin', '{"after": {"home": "100482", "privileges": {"account_access": "full", "billing": "full", "claims": "full", "clients": "full", "codes": "full", "notes": "full", "practice_setup": "full", "reports": "full", "scheduling": "full"}}}');
INSERT INTO gs_schema1.audit VALUES (6, 5, '2026-11-27T02:28:15Z', 'riverside-admin', 'add', 'join', '100517', 'riverside-admin', '{"after": {"account_access": "full", "billing": "full", "claims": "full", "clients": "full", "codes": "full", "notes": "full", "practice_setup": "full", "reports": "full", "scheduling": "full"}, "login": "rjones"}');
INSERT INTO gs_schema1.audit VALUES (7, 5, '2026-11-27T02:28:15Z', 'riverside-admin', 'add', 'join', '100533', 'riverside-admin', '{"after": {"account_access": "full", "billing": "full", "claims": "full", "clients": "full", "codes": "full", "notes": "full", "practice_setup": "full", "reports": "full", "scheduling": "full"}, "login": "mgarcia"}');
INSERT INTO gs_schema1.audit VALUES (8, 5, '2026-11-27T02:28:15Z', 'riverside-admin', 'add', 'join', '100561', 'riverside-admin', '{"after": {"account_access": "full", "billing": "full", "claims": "full", "clients": "full", "codes": "full", "notes": "full", "practice_setup": "full", "reports": "full", "scheduling": "full"}, "login": "dchen"}');
INSERT INTO gs_schema1.audit VALUES (9, 5, '2026-11-27T02:28:15Z', 'riverside-admin', 'change', 'practice_setup', '100482', NULL, '{"after": {"bills_electronically": true, "practice_name": "Riverside Counseling Group", "tin": "12-3456789"}, "before": {"bills_electronically": false, "practice_name": null, "tin": null}}');
INSERT INTO gs_schema1.audit VALUES (10, 5, '2026-11-27T02:28:15Z', 'riverside-admin', 'change', 'practice_setup', '100517', NULL, '{"after": {"bills_electronically": true, "practice_name": "Riverside Counseling Group", "tin": "12-3456789"}, "before": {"bills_electronically": false, "practice_name": null, "tin": null}}');
INSERT INTO gs_schema1.audit VALUES (11, 5, '2026-11-27T02:28:15Z', 'riverside-admin', 'change', 'practice_setup', '100533', NULL, '{"after": {"bills_electronically": false, "practice_name": "Riverside Counseling Group", "tin": "12-3456789"}, "before": {"bills_electronically": false, "practice_name": null, "tin": null}}');
INSERT INTO gs_schema1.audit VALUES (12, 5, '2026-11-27T02:28:15Z', 'riverside-admin', 'change', 'practice_setup', '100561', NULL, '{"after": {"bills_electronically": true, "practice_name": "Riverside Counseling Group", "tin": "12-3456789"}, "before": {"bills_electronically": false, "practice_name": null, "tin": null}}');
INSERT INTO gs_schema1.audit VALUES (13, 5, '2026-11-27T02:28:15Z', 'riverside-admin', 'add', 'username', '100482', 'billing', '{"after": {"home": "100482", "privileges": {"account_access": "none", "billing": "full", "claims": "full", "clients": "view", "codes": "view", "notes": "none", "practice_setup": "none", "reports": "view", "scheduling": "none"}}}');
INSERT INTO gs_schema1.audit VALUES (14, 5, '2026-11-27T02:28:15Z', 'riverside-admin', 'add', 'username', '100482', 'frontdesk', '{"after": {"home": "100482", "privileges": {"account_access": "none", "billing": "none", "claims": "none", "clients": "view", "codes": "none", "notes": "none", "practice_setup": "none", "reports": "none", "scheduling": "full"}}}');
INSERT INTO gs_schema1.audit VALUES (15, 5, '2026-11-27T02:28:15Z', 'riverside-admin', 'add', 'join', '100517', 'billing', '{"after": {"account_access": "full", "billing": "full", "claims": "full", "clients": "full", "codes": "full", "notes": "full", "practice_setup": "full", "reports": "full", "scheduling": "full"}, "login": "rjones"}');
INSERT INTO gs_schema1.audit VALUES (16, 5, '2026-11-27T02:28:15Z', 'riverside-admin', 'change', 'privileges', '100517', 'billing', '{"after": {"account_access": "none", "billing": "full", "claims": "full", "clients": "view", "codes": "view", "notes": "none", "practice_setup": "none", "reports": "view", "scheduling": "none"}, "before": {"account_access": "full", "billing": "full", "claims": "full", "clients": "full", "codes": "full", "notes": "full", "practice_setup": "full", "reports": "full", "scheduling": "full"}}');
INSERT INTO gs_schema1.audit VALUES (17, 5, '2026-11-27T02:28:15Z', 'riverside-admin', 'add', 'join', '100517', 'frontdesk', '{"after": {"account_access": "full", "billing": "full", "claims": "full", "clients": "full", "codes": "full", "notes": "full", "practice_setup": "full", "reports": "full", "scheduling": "full"}, "login": "rjones"}');
INSERT INTO gs_schema1.audit VALUES (18, 5, '2026-11-27T02:28:15Z', 'riverside-admin', 'change', 'privileges', '100517', 'frontdesk', '{"after": {"account_access": "none", "billing": "none", "claims": "none", "clients": "view", "codes": "none", "notes": "none", "practice_setup": "none", "reports": "none", "scheduling": "full"}, "before": {"account_access": "full", "billing": "full", "claims": "full", "clients": "full", "codes": "full", "notes": "full", "practice_setup": "full", "reports": "full", "scheduling": "full"}}');
INSERT INTO gs_schema1.audit VALUES (19, 5, '2026-11-27T02:28:15Z', 'riverside-admin', 'add', 'join', '100533', 'billing', '{"after": {"account_access": "full", "billing": "full", "claims": "full", "clients": "full", "codes": "full", "notes": "full", "practice_setup": "full", "reports": "full", "scheduling": "full"}, "login": "mgarcia"}');
INSERT INTO gs_schema1.audit VALUES (20, 5, '2026-11-27T02:28:15Z', 'riverside-admin', 'change', 'privileges', '100533', 'billing', '{"after": {"account_access": "none", "billing": "full", "claims": "view", "clients": "view", "codes": "view", "notes": "none", "practice_setup": "none", "reports": "view", "scheduling": "none"}, "before": {"account_access": "full", "billing": "full", "claims": "full", "clients": "full", "codes": "full", "notes": "full", "practice_setup": "full", "reports": "full", "scheduling": "full"}}');
INSERT INTO gs_schema1.audit VALUES (21, 5, '2026-11-27T02:28:15Z', 'riverside-admin', 'add', 'join', '100533', 'frontdesk', '{"after": {"account_access": "full", "billing": "full", "claims": "full", "clients": "full", "codes": "full", "notes": "full", "practice_setup": "full", "reports": "full", "scheduling": "full"}, "login": "mgarcia"}');
INSERT INTO gs_schema1.audit VALUES (22, 5, '2026-11-27T02:28:15Z', 'riverside-admin', 'change', 'privileges', '100533', 'frontdesk', '{"after": {"account_access": "none", "billing": "none", "claims": "none", "clients": "view", "codes": "none", "notes": "none", "practice_setup": "none", "reports": "none", "scheduling": "full"}, "before": {"account_access": "full", "billing": "full", "claims": "full", "clients": "full", "codes": "full", "notes": "full", "practice_setup": "full", "reports": "full", "scheduling": "full"}}');
INSERT INTO gs_schema1.audit VALUES (23, 5, '2026-11-27T02:28:15Z', 'riverside-admin', 'add', 'join', '100561', 'billing', '{"after": {"account_access": "full", "billing": "full", "claims": "full", "clients": "full", "codes": "full", "notes": "full", "practice_setup": "full", "reports": "full", "scheduling": "full"}, "login": "dchen"}');
INSERT INTO gs_schema1.audit VALUES (24, 5, '2026-11-27T02:28:15Z', 'riverside-admin', 'change', 'privileges', '100561', 'billing', '{"after": {"account_access": "none", "billing": "full", "claims": "full", "clients": "view", "codes": "view", "notes": "none", "practice_setup": "none", "reports": "view", "scheduling": "none"}, "before": {"account_access": "full", "billing": "full", "claims": "full", "clients": "full", "codes": "full", "notes": "full", "practice_setup": "full", "reports": "full", "scheduling": "full"}}');
INSERT INTO gs_schema1.audit VALUES (25, 5, '2026-11-27T02:28:15Z', 'riverside-admin', 'add', 'join', '100561', 'frontdesk', '{"after": {"account_access": "full", "billing": "full", "claims": "full", "clients": "full", "codes": "full", "notes": "full", "practice_setup": "full", "reports": "full", "scheduling": "full"}, "login": "dchen"}');
INSERT INTO gs_schema1.audit VALUES (26, 5, '2026-11-27T02:28:15Z', 'riverside-admin', 'change', 'privileges', '100561', 'frontdesk', '{"after": {"account_access": "none", "billing": "none", "claims": "none", "clients": "view", "codes": "none", "notes": "none", "practice_setup": "none", "reports": "none", "scheduling": "full"}, "before": {"account_access": "full", "billing": "full", "claims": "full", "clients": "full", "codes": "full", "notes": "full", "practice_setup": "full", "reports": "full", "scheduling": "full"}}');
INSERT INTO gs_schema1.audit VALUES (27, 5, '2026-11-27T02:28:15Z', 'riverside-admin', 'add', 'code', '100482', NULL, '{"after": {"code": "F32.1", "description": "Major depressive disorder, single episode, moderate"}, "before": null, "file": "diagnosis_codes", "key": "F32.1"}');
INSERT INTO gs_schema1.audit VALUES (28, 5, '2026-11-27T02:28:15Z', 'riverside-admin', 'add', 'code', '100482', NULL, '{"after": {"code": "F33.1", "description": "Major depressive disorder, recurrent, moderate"}, "before": null, "file": "diagnosis_codes", "key": "F33.1"}');
INSERT INTO gs_schema1.audit VALUES (29, 5, '2026-11-27T02:28:15Z', 'riverside-admin', 'add', 'code', '100482', NULL, '{"after": {"code": "F41.1", "description": "Generalized anxiety disorder"}, "before": null, "file": "diagnosis_codes", "key": "F41.1"}');
INSERT INTO gs_schema1.audit VALUES (30, 5, '2026-11-27T02:28:15Z', 'riverside-admin', 'add', 'code', '100482', NULL, '{"after": {"code": "F43.10", "description": "Post-traumatic stress disorder, unspecified"}, "before": null, "file": "diagnosis_codes", "key": "F43.10"}');
INSERT INTO gs_schema1.audit VALUES (31, 5, '2026-11-27T02:28:15Z', 'riverside-admin', 'add', 'code', '100482', NULL, '{"after": {"code": "F43.23", "description": "Adjustment disorder with mixed anxiety and depressed mood"}, "before": null, "file": "diagnosis_codes", "key": "F43.23"}');
INSERT INTO gs_schema1.audit VALUES (32, 5, '2026-11-27T02:28:15Z', 'riverside-admin', 'add', 'code', '100482', NULL, '{"after": {"code": "F90.0", "description": "Attention-deficit hyperactivity disorder, predominantly inattentive type"}, "before": null, "file": "diagnosis_codes", "key": "F90.0"}');
INSERT INTO gs_schema1.audit VALUES (33, 5, '2026-11-27T02:28:15Z', 'riverside-admin', 'add', 'code', '100482', NULL, '{"after": {"code": "Z63.0", "description": "Problems in relationship with spouse or partner"}, "before": null, "file": "diagnosis_codes", "key": "Z63.0"}');
INSERT INTO gs_schema1.audit VALUES (34, 5, '2026-11-27T02:28:15Z', 'riverside-admin', 'add', 'code', '100482', NULL, '{"after": {"code": "90791", "description": "Psychiatric diagnostic evaluation", "fee": "200.00"}, "before": null, "file": "billing_codes", "key": "90791"}');
INSERT INTO gs_schema1.audit VALUES (35, 5, '2026-11-27T02:28:15Z', 'riverside-admin', 'add', 'code', '100482', NULL, '{"after": {"code": "90832", "description": "Psychotherapy, 30 minutes", "fee": "85.00"}, "before": null, "file": "billing_codes", "key": "90832"}');
INSERT INTO gs_schema1.audit VALUES (36, 5, '2026-11-27T02:28:15Z', 'riverside-admin', 'add', 'code', '100482', NULL, '{"after": {"code": "90834", "description": "Psychotherapy, 45 minutes", "fee": "120.00"}, "before": null, "file": "billing_codes", "key": "90834"}');
INSERT INTO gs_schema1.audit VALUES (37, 5, '2026-11-27T02:28:15Z', 'riverside-admin', 'add', 'code', '100482', NULL, '{"after": {"code": "90837", "description": "Psychotherapy, 60 minutes", "fee": "150.00"}, "before": null, "file": "billing_codes", "key": "90837"}');
INSERT INTO gs_schema1.audit VALUES (38, 5, '2026-11-27T02:28:15Z', 'riverside-admin', 'add', 'code', '100482', NULL, '{"after": {"code": "90846", "description": "Family psychotherapy without the patient present", "fee": "130.00"}, "before": null, "file": "billing_codes", "key": "90846"}');
INSERT INTO gs_schema1.audit VALUES (39, 5, '2026-11-27T02:28:15Z', 'riverside-admin', 'add', 'code', '100482', NULL, '{"after": {"code": "90847", "description": "Family psychotherapy with the patient present", "fee": "140.00"}, "before": null, "file": "billing_codes", "key": "90847"}');
INSERT INTO gs_schema1.audit VALUES (40, 5, '2026-11-27T02:28:15Z', 'riverside-admin', 'add', 'code', '100482', NULL, '{"after": {"code": "90853", "description": "Group psychotherapy", "fee": "60.00"}, "before": null, "file": "billing_codes", "key": "90853"}');
INSERT INTO gs_schema1.audit VALUES (41, 5, '2026-11-27T02:28:15Z', 'riverside-admin', 'add', 'code', '100482', NULL, '{"after": {"claims": "electronic", "name": "Aetna", "payer_id": "60054"}, "before": null, "file": "insurance_payers", "key": "Aetna"}');
INSERT INTO gs_schema1.audit VALUES (42, 5, '2026-11-27T02:28:15Z', 'riverside-admin', 'add', 'code', '100482', NULL, '{"after": {"claims": "electronic", "name": "Cigna", "payer_id": "62308"}, "before": null, "file": "insurance_payers", "key": "Cigna"}');
INSERT INTO gs_schema1.audit VALUES (43, 5, '2026-11-27T02:28:15Z', 'riverside-admin', 'add', 'code', '100482', NULL, '{"after": {"claims": "electronic", "name": "Humana", "payer_id": "61101"}, "before": null, "file": "insurance_payers", "key": "Humana"}');
INSERT INTO gs_schema1.audit VALUES (44, 5, '2026-11-27T02:28:15Z', 'riverside-admin', 'add', 'code', '100482', NULL, '{"after": {"claims": "paper", "name": "Magellan Healthcare", "payer_id": "01260"}, "before": null, "file": "insurance_payers", "key": "Magellan Healthcare"}');
INSERT INTO gs_schema1.audit VALUES (45, 5, '2026-11-27T02:28:15Z', 'riverside-admin', 'add', 'code', '100482', NULL, '{"after": {"claims": "electronic", "name": "UnitedHealthcare", "payer_id": "87726"}, "before": null, "file": "insurance_payers", "key": "UnitedHealthcare"}');
INSERT INTO gs_schema1.audit VALUES (46, 5, '2026-11-27T02:28:15Z', 'riverside-admin', 'add', 'code', '100517', NULL, '{"after": {"code": "F32.1", "description": "Major depressive disorder, single episode, moderate"}, "before": null, "copied_from": "100482", "file": "diagnosis_codes", "key": "F32.1"}');
INSERT INTO gs_schema1.audit VALUES (47, 5, '2026-11-27T02:28:15Z', 'riverside-admin', 'add', 'code', '100517', NULL, '{"after": {"code": "F33.1", "description": "Major depressive disorder, recurrent, moderate"}, "before": null, "copied_from": "100482", "file": "diagnosis_codes", "key": "F33.1"}');
INSERT INTO gs_schema1.audit VALUES (48, 5, '2026-11-27T02:28:15Z', 'riverside-admin', 'add', 'code', '100517', NULL, '{"after": {"code": "F41.1", "description": "Generalized anxiety disorder"}, "before": null, "copied_from": "100482", "file": "diagnosis_codes", "key": "F41.1"}');
INSERT INTO gs_schema1.audit VALUES (49, 5, '2026-11-27T02:28:15Z', 'riverside-admin', 'add', 'code', '100517', NULL, '{"after": {"code": "F43.10", "description": "Post-traumatic stress disorder, unspecified"}, "before": null, "copied_from": "100482", "file": "diagnosis_codes", "key": "F43.10"}');
INSERT INTO gs_schema1.audit VALUES (50, 5, '2026-11-27T02:28:15Z', 'riverside-admin', 'add', 'code', '100517', NULL, '{"after": {"code": "F43.23", "description": "Adjustment disorder with mixed anxiety and depressed mood"}, "before": null, "copied_from": "100482", "file": "diagnosis_codes", "key": "F43.23"}');
INSERT INTO gs_schema1.audit VALUES (51, 5, '2026-11-27T02:28:15Z', 'riverside-admin', 'add', 'code', '100517', NULL, '{"after": {"code": "F90.0", "description": "Attention-deficit hyperactivity disorder, predominantly inattentive type"}, "before": null, "copied_from": "100482", "file": "diagnosis_codes", "key": "F90.0"}');
INSERT INTO gs_schema1.audit VALUES (52, 5, '2026-11-27T02:28:15Z', 'riverside-admin', 'add', 'code', '100517', NULL, '{"after": {"code": "Z63.0", "description": "Problems in relationship with spouse or partner"}, "before": null, "copied_from": "100482", "file": "diagnosis_codes", "key": "Z63.0"}');
INSERT INTO gs_schema1.audit VALUES (53, 5, '2026-11-27T02:28:15Z', 'riverside-admin', 'add', 'code', '100517', NULL, '{"after": {"code": "90791", "description": "Psychiatric diagnostic evaluation", "fee": "200.00"}, "before": null, "copied_from": "100482", "file": "billing_codes", "key": "90791"}');
INSERT INTO gs_schema1.audit VALUES (54, 5, '2026-11-27T02:28:15Z', 'riverside-admin', 'add', 'code', '100517', NULL, '{"after": {"code": "90832", "description": "Psychotherapy, 30 minutes", "fee": "85.00"}, "before": null, "copied_from": "100482", "file": "billing_codes", "key": "90832"}');
INSERT INTO gs_schema1.audit VALUES (55, 5, '2026-11-27T02:28:15Z', 'riverside-admin', 'add', 'code', '100517', NULL, '{"after": {"code": "90834", "description": "Psychotherapy, 45 minutes", "fee": "120.00"}, "before": null, "copied_from": "100482", "file": "billing_codes", "key": "90834"}');
INSERT INTO gs_schema1.audit VALUES (56, 5, '2026-11-27T02:28:15Z', 'riverside-admin', 'add', 'code', '100517', NULL, '{"after": {"code": "90837", "description": "Psychotherapy, 60 minutes", "fee": "150.00"}, "before": null, "copied_from": "100482", "file": "billing_codes", "key": "90837"}');
INSERT INTO gs_schema1.audit VALUES (57, 5, '2026-11-27T02:28:15Z', 'riverside-admin', 'add', 'code', '100517', NULL, '{"after": {"code": "90846", "description": "Family psychotherapy without the patient present", "fee": "130.00"}, "before": null, "copied_from": "100482", "file": "billing_codes", "key": "90846"}');
INSERT INTO gs_schema1.audit VALUES (58, 5, '2026-11-27T02:28:15Z', 'riverside-admin', 'add', 'code', '100517', NULL, '{"after": {"code": "90847", "description": "Family psychotherapy with the patient present", "fee": "140.00"}, "before": null, "copied_from": "100482", "file": "billing_codes", "key": "90847"}');
INSERT INTO gs_schema1.audit VALUES (59, 5, '2026-11-27T02:28:15Z', 'riverside-admin', 'add', 'code', '100517', NULL, '{"after": {"code": "90853", "description": "Group psychotherapy", "fee": "60.00"}, "before": null, "copied_from": "100482", "file": "billing_codes", "key": "90853"}');
INSERT INTO gs_schema1.audit VALUES (60, 5, '2026-11-27T02:28:15Z', 'riverside-admin', 'add', 'code', '100517', NULL, '{"after": {"claims": "electronic", "name": "Aetna", "payer_id": "60054"}, "before": null, "copied_from": "100482", "file": "insurance_payers", "key": "Aetna"}');
INSERT INTO gs_schema1.audit VALUES (61, 5, '2026-11-27T02:28:15Z', 'riverside-admin', 'add', 'code', '100517', NULL, '{"after": {"claims": "electronic", "name": "Cigna", "payer_id": "62308"}, "before": null, "copied_from": "100482", "file": "insurance_payers", "key": "Cigna"}');
INSERT INTO gs_schema1.audit VALUES (62, 5, '2026-11-27T02:28:15Z', 'riverside-admin', 'add', 'code', '100517', NULL, '{"after": {"claims": "electronic", "name": "Humana", "payer_id": "61101"}, "before": null, "copied_from": "100482", "file": "insurance_payers", "key": "Humana"}');
INSERT INTO gs_schema1.audit VALUES (63, 5, '2026-11-27T02:28:15Z', 'riverside-admin', 'add', 'code', '100517', NULL, '{"after": {"claims": "paper", "name": "Magellan Healthcare", "payer_id": "01260"}, "before": null, "copied_from": "100482", "file": "insurance_payers", "key": "Magellan Healthcare"}');
INSERT INTO gs_schema1.audit VALUES (64, 5, '2026-11-27T02:28:15Z', 'riverside-admin', 'add', 'code', '100517', NULL, '{"after": {"claims": "electronic", "name": "UnitedHealthcare", "payer_id": "87726"}, "before": null, "copied_from": "100482", "file": "insurance_payers", "key": "UnitedHealthcare"}');
INSERT INTO gs_schema1.audit VALUES (65, 5, '2026-11-27T02:28:15Z', 'riverside-admin', 'add', 'code', '100533', NULL, '{"after": {"code": "F32.1", "description": "Major depressive disorder, single episode, moderate"}, "before": null, "copied_from": "100482", "file": "diagnosis_codes", "key": "F32.1"}');
INSERT INTO gs_schema1.audit VALUES (66, 5, '2026-11-27T02:28:15Z', 'riverside-admin', 'add', 'code', '100533', NULL, '{"after": {"code": "F33.1", "description": "Major depressive disorder, recurrent, moderate"}, "before": null, "copied_from": "100482", "file": "diagnosis_codes", "key": "F33.1"}');
INSERT INTO gs_schema1.audit VALUES (67, 5, '2026-11-27T02:28:15Z', 'riverside-admin', 'add', 'code', '100533', NULL, '{"after": {"code": "F41.1", "description": "Generalized anxiety disorder"}, "before": null, "copied_from": "100482", "file": "diagnosis_codes", "key": "F41.1"}');
INSERT INTO gs_schema1.audit VALUES (68, 5, '2026-11-27T02:28:15Z', 'riverside-admin', 'add', 'code', '100533', NULL, '{"after": {"code": "F43.10", "description": "Post-traumatic stress disorder, unspecified"}, "before": null, "copied_from": "100482", "file": "diagnosis_codes", "key": "F43.10"}');
INSERT INTO gs_schema1.audit VALUES (69, 5, '2026-11-27T02:28:15Z', 'riverside-admin', 'add', 'code', '100533', NULL, '{"after": {"code": "F43.23", "description": "Adjustment disorder with mixed anxiety and depressed mood"}, "before": null, "copied_from": "100482", "file": "diagnosis_codes", "key": "F43.23"}');
INSERT INTO gs_schema1.audit VALUES (70, 5, '2026-11-27T02:28:15Z', 'riverside-admin', 'add', 'code', '100533', NULL, '{"after": {"code": "F90.0", "description": "Attention-deficit hyperactivity disorder, predominantly inattentive type"}, "before": null, "copied_from": "100482", "file": "diagnosis_codes", "key": "F90.0"}');
INSERT INTO gs_schema1.audit VALUES (71, 5, '2026-11-27T02:28:15Z', 'riverside-admin', 'add', 'code', '100533', NULL, '{"after": {"code": "Z63.0", "description": "Problems in relationship with spouse or partner"}, "before": null, "copied_from": "100482", "file": "diagnosis_codes", "key": "Z63.0"}');
INSERT INTO gs_schema1.audit VALUES (72, 5, '2026-11-27T02:28:15Z', 'riverside-admin', 'add', 'code', '100533', NULL, '{"after": {"code": "90791", "description": "Psychiatric diagnostic evaluation", "fee": "200.00"}, "before": null, "copied_from": "100482", "file": "billing_codes", "key": "90791"}');
INSERT INTO gs_schema1.audit VALUES (73, 5, '2026-11-27T02:28:15Z', 'riverside-admin', 'add', 'code', '100533', NULL, '{"after": {"code": "90832", "description": "Psychotherapy, 30 minutes", "fee": "85.00"}, "before": null, "copied_from": "100482", "file": "billing_codes", "key": "90832"}');
INSERT INTO gs_schema1.audit VALUES (74, 5, '2026-11-27T02:28:15Z', 'riverside-admin', 'add', 'code', '100533', NULL, '{"after": {"code": "90834", "description": "Psychotherapy, 45 minutes", "fee": "120.00"}, "before": null, "copied_from": "100482", "file": "billing_codes", "key": "90834"}');
INSERT INTO gs_schema1.audit VALUES (75, 5, '2026-11-27T02:28:15Z', 'riverside-admin', 'add', 'code', '100533', NULL, '{"after": {"code": "90837", "description": "Psychotherapy, 60 minutes", "fee": "150.00"}, "before": null, "copied_from": "100482", "file": "billing_codes", "key": "90837"}');
INSERT INTO gs_schema1.audit VALUES (76, 5, '2026-11-27T02:28:15Z', 'riverside-admin', 'add', 'code', '100533', NULL, '{"after": {"code": "90846", "description": "Family psychotherapy without the patient present", "fee": "130.00"}, "before": null, "copied_from": "100482", "file": "billing_codes", "key": "90846"}');
INSERT INTO gs_schema1.audit VALUES (77, 5, '2026-11-27T02:28:15Z', 'riverside-admin', 'add', 'code', '100533', NULL, '{"after": {"code": "90847", "description": "Family psychotherapy with the patient present", "fee": "140.00"}, "before": null, "copied_from": "100482", "file": "billing_codes", "key": "90847"}');
INSERT INTO gs_schema1.audit VALUES (78, 5, '2026-11-27T02:28:15Z', 'riverside-admin', 'add', 'code', '100533', NULL, '{"after": {"code": "90853", "description": "Group psychotherapy", "fee": "60.00"}, "before": null, "copied_from": "100482", "file": "billing_codes", "key": "90853"}');
INSERT INTO gs_schema1.audit VALUES (79, 5, '2026-11-27T02:28:15Z', 'riverside-admin', 'add', 'code', '100533', NULL, '{"after": {"claims": "electronic", "name": "Aetna", "payer_id": "60054"}, "before": null, "copied_from": "100482", "file": "insurance_payers", "key": "Aetna"}');
INSERT INTO gs_schema1.audit VALUES (80, 5, '2026-11-27T02:28:15Z', 'riverside-admin', 'add', 'code', '100533', NULL, '{"after": {"claims": "electronic", "name": "Cigna", "payer_id": "62308"}, "before": null, "copied_from": "100482", "file": "insurance_payers", "key": "Cigna"}');
INSERT INTO gs_schema1.audit VALUES (81, 5, '2026-11-27T02:28:15Z', 'riverside-admin', 'add', 'code', '100533', NULL, '{"after": {"claims": "electronic", "name": "Humana", "payer_id": "61101"}, "before": null, "copied_from": "100482", "file": "insurance_payers", "key": "Humana"}');
INSERT INTO gs_schema1.audit VALUES (82, 5, '2026-11-27T02:28:15Z', 'riverside-admin', 'add', 'code', '100533', NULL, '{"after": {"claims": "paper", "name": "Magellan Healthcare", "payer_id": "01260"}, "before": null, "copied_from": "100482", "file": "insurance_payers", "key": "Magellan Healthcare"}');
INSERT INTO gs_schema1.audit VALUES (83, 5, '2026-11-27T02:28:15Z', 'riverside-admin', 'add', 'code', '100533', NULL, '{"after": {"claims": "electronic", "name": "UnitedHealthcare", "payer_id": "87726"}, "before": null, "copied_from": "100482", "file": "insurance_payers", "key": "UnitedHealthcare"}');
INSERT INTO gs_schema1.audit VALUES (84, 5, '2026-11-27T02:28:15Z', 'riverside-admin', 'add', 'code', '100561', NULL, '{"after": {"code": "F32.1", "description": "Major depressive disorder, single episode, moderate"}, "before": null, "copied_from": "100482", "file": "diagnosis_codes", "key": "F32.1"}');
INSERT INTO gs_schema1.audit VALUES (85, 5, '2026-11-27T02:28:15Z', 'riverside-admin', 'add', 'code', '100561', NULL, '{"after": {"code": "F33.1", "description": "Major depressive disorder, recurrent, moderate"}, "before": null, "copied_from": "100482", "file": "diagnosis_codes", "key": "F33.1"}');
INSERT INTO gs_schema1.audit VALUES (86, 5, '2026-11-27T02:28:15Z', 'riverside-admin', 'add', 'code', '100561', NULL, '{"after": {"code": "F41.1", "description": "Generalized anxiety disorder"}, "before": null, "copied_from": "100482", "file": "diagnosis_codes", "key": "F41.1"}');
INSERT INTO gs_schema1.audit VALUES (87, 5, '2026-11-27T02:28:15Z', 'riverside-admin', 'add', 'code', '100561', NULL, '{"after": {"code": "F43.10", "description": "Post-traumatic stress disorder, unspecified"}, "before": null, "copied_from": "100482", "file": "diagnosis_codes", "key": "F43.10"}');
INSERT INTO gs_schema1.audit VALUES (88, 5, '2026-11-27T02:28:15Z', 'riverside-admin', 'add', 'code', '100561', NULL, '{"after": {"code": "F43.23", "description": "Adjustment disorder with mixed anxiety and depressed mood"}, "before": null, "copied_from": "100482", "file": "diagnosis_codes", "key": "F43.23"}');
INSERT INTO gs_schema1.audit VALUES (89, 5, '2026-11-27T02:28:15Z', 'riverside-admin', 'add', 'code', '100561', NULL, '{"after": {"code": "F90.0", "description": "Attention-deficit hyperactivity disorder, predominantly inattentive type"}, "before": null, "copied_from": "100482", "file": "diagnosis_codes", "key": "F90.0"}');
INSERT INTO gs_schema1.audit VALUES (90, 5, '2026-11-27T02:28:15Z', 'riverside-admin', 'add', 'code', '100561', NULL, '{"after": {"code": "Z63.0", "description": "Problems in relationship with spouse or partner"}, "before": null, "copied_from": "100482", "file": "diagnosis_codes", "key": "Z63.0"}');
INSERT INTO gs_schema1.audit VALUES (91, 5, '2026-11-27T02:28:15Z', 'riverside-admin', 'add', 'code', '100561', NULL, '{"after": {"code": "90791", "description": "Psychiatric diagnostic evaluation", "fee": "200.00"}, "before": null, "copied_from": "100482", "file": "billing_codes", "key": "90791"}');
INSERT INTO gs_schema1.audit VALUES (92, 5, '2026-11-27T02:28:15Z', 'riverside-admin', 'add', 'code', '100561', NULL, '{"after": {"code": "90832", "description": "Psychotherapy, 30 minutes", "fee": "85.00"}, "before": null, "copied_from": "100482", "file": "billing_codes", "key": "90832"}');
INSERT INTO gs_schema1.audit VALUES (93, 5, '2026-11-27T02:28:15Z', 'riverside-admin', 'add', 'code', '100561', NULL, '{"after": {"code": "90834", "description": "Psychotherapy, 45 minutes", "fee": "120.00"}, "before": null, "copied_from": "100482", "file": "billing_codes", "key": "90834"}');
INSERT INTO gs_schema1.audit VALUES (94, 5, '2026-11-27T02:28:15Z', 'riverside-admin', 'add', 'code', '100561', NULL, '{"after": {"code": "90837", "description": "Psychotherapy, 60 minutes", "fee": "150.00"}, "before": null, "copied_from": "100482", "file": "billing_codes", "key": "90837"}');
INSERT INTO gs_schema1.audit VALUES (95, 5, '2026-11-27T02:28:15Z', 'riverside-admin', 'add', 'code', '100561', NULL, '{"after": {"code": "90846", "description": "Family psychotherapy without the patient present", "fee": "130.00"}, "before": null, "copied_from": "100482", "file": "billing_codes", "key": "90846"}');
INSERT INTO gs_schema1.audit VALUES (96, 5, '2026-11-27T02:28:15Z', 'riverside-admin', 'add', 'code', '100561', NULL, '{"after": {"code": "90847", "description": "Family psychotherapy with the patient present", "fee": "140.00"}, "before": null, "copied_from": "100482", "file": "billing_codes", "key": "90847"}');
INSERT INTO gs_schema1.audit VALUES (97, 5, '2026-11-27T02:28:15Z', 'riverside-admin', 'add', 'code', '100561', NULL, '{"after": {"code": "90853", "description": "Group psychotherapy", "fee": "60.00"}, "before": null, "copied_from": "100482", "file": "billing_codes", "key": "90853"}');
INSERT INTO gs_schema1.audit VALUES (98, 5, '2026-11-27T02:28:15Z', 'riverside-admin', 'add', 'code', '100561', NULL, '{"after": {"claims": "electronic", "name": "Aetna", "payer_id": "60054"}, "before": null, "copied_from": "100482", "file": "insurance_payers", "key": "Aetna"}');
INSERT INTO gs_schema1.audit VALUES (99, 5, '2026-11-27T02:28:15Z', 'riverside-admin', 'add', 'code', '100561', NULL, '{"after": {"claims": "electronic", "name": "Cigna", "payer_id": "62308"}, "before": null, "copied_from": "100482", "file": "insurance_payers", "key": "Cigna"}');
INSERT INTO gs_schema1.audit VALUES (100, 5, '2026-11-27T02:28:15Z', 'riverside-admin', 'add', 'code', '100561', NULL, '{"after": {"claims": "electronic", "name": "Humana", "payer_id": "61101"}, "before": null, "copied_from": "100482", "file": "insurance_payers", "key": "Humana"}');
INSERT INTO gs_schema1.audit VALUES (101, 5, '2026-11-27T02:28:15Z', 'riverside-admin', 'add', 'code', '100561', NULL, '{"after": {"claims": "paper", "name": "Magellan Healthcare", "payer_id": "01260"}, "before": null, "copied_from": "100482", "file": "insurance_payers", "key": "Magellan Healthcare"}');
INSERT INTO gs_schema1.audit VALUES (102, 5, '2026-11-27T02:28:15Z', 'riverside-admin', 'add', 'code', '100561', NULL, '{"after": {"claims": "electronic", "name": "UnitedHealthcare", "payer_id": "87726"}, "before": null, "copied_from": "100482", "file": "insurance_payers", "key": "UnitedHealthcare"}');

INSERT INTO gs_schema1.codes VALUES ('100482', 'billing_codes', '90791', 'Psychiatric diagnostic evaluation', '200.00', '', '');
INSERT INTO gs_schema1.codes VALUES ('100482', 'billing_codes', '90832', 'Psychotherapy, 30 minutes', '85.00', '', '');
INSERT INTO gs_schema1.codes VALUES ('100482', 'billing_codes', '90834', 'Psychotherapy, 45 minutes', '120.00', '', '');
INSERT INTO gs_schema1.codes VALUES ('100482', 'billing_codes', '90837', 'Psychotherapy, 60 minutes', '150.00', '', '');
INSERT INTO gs_schema1.codes VALUES ('100482', 'billing_codes', '90846', 'Family psychotherapy without the patient present', '130.00', '', '');
INSERT INTO gs_schema1.codes VALUES ('100482', 'billing_codes', '90847', 'Family psychotherapy with the patient present', '140.00', '', '');
INSERT INTO gs_schema1.codes VALUES ('100482', 'billing_codes', '90853', 'Group psychotherapy', '60.00', '', '');
INSERT INTO gs_schema1.codes VALUES ('100482', 'diagnosis_codes', 'F32.1', 'Major depressive disorder, single episode, moderate', '', '', '');
INSERT INTO gs_schema1.codes VALUES ('100482', 'diagnosis_codes', 'F33.1', 'Major depressive disorder, recurrent, moderate', '', '', '');
INSERT INTO gs_schema1.codes VALUES ('100482', 'diagnosis_codes', 'F41.1', 'Generalized anxiety disorder', '', '', '');
INSERT INTO gs_schema1.codes VALUES ('100482', 'diagnosis_codes', 'F43.10', 'Post-traumatic stress disorder, unspecified', '', '', '');
INSERT INTO gs_schema1.codes VALUES ('100482', 'diagnosis_codes', 'F43.23', 'Adjustment disorder with mixed anxiety and depressed mood', '', '', '');
INSERT INTO gs_schema1.codes VALUES ('100482', 'diagnosis_codes', 'F90.0', 'Attention-deficit hyperactivity disorder, predominantly inattentive type', '', '', '');
INSERT INTO gs_schema1.codes VALUES ('100482', 'diagnosis_codes', 'Z63.0', 'Problems in relationship with spouse or partner', '', '', '');
INSERT INTO gs_schema1.codes VALUES ('100482', 'insurance_payers', 'Aetna', '', '', '60054', 'electronic');
INSERT INTO gs_schema1.codes VALUES ('100482', 'insurance_payers', 'Cigna', '', '', '62308', 'electronic');
INSERT INTO gs_schema1.codes VALUES ('100482', 'insurance_payers', 'Humana', '', '', '61101', 'electronic');
INSERT INTO gs_schema1.codes VALUES ('100482', 'insurance_payers', 'Magellan Healthcare', '', '', '01260', 'paper');
INSERT INTO gs_schema1.codes VALUES ('100482', 'insurance_payers', 'UnitedHealthcare', '', '', '87726', 'electronic');
INSERT INTO gs_schema1.codes VALUES ('100517', 'billing_codes', '90791', 'Psychiatric diagnostic evaluation', '200.00', '', '');
INSERT INTO gs_schema1.codes VALUES ('100517', 'billing_codes', '90832', 'Psychotherapy, 30 minutes', '85.00', '', '');
INSERT INTO gs_schema1.codes VALUES ('100517', 'billing_codes', '90834', 'Psychotherapy, 45 minutes', '120.00', '', '');
INSERT INTO gs_schema1.codes VALUES ('100517', 'billing_codes', '90837', 'Psychotherapy, 60 minutes', '150.00', '', '');
INSERT INTO gs_schema1.codes VALUES ('100517', 'billing_codes', '90846', 'Family psychotherapy without the patient present', '130.00', '', '');
INSERT INTO gs_schema1.codes VALUES ('100517', 'billing_codes', '90847', 'Family psychotherapy with the patient present', '140.00', '', '');
INSERT INTO gs_schema1.codes VALUES ('100517', 'billing_codes', '90853', 'Group psychotherapy', '60.00', '', '');
INSERT INTO gs_schema1.codes VALUES ('100517', 'diagnosis_codes', 'F32.1', 'Major depressive disorder, single episode, moderate', '', '', '');
INSERT INTO gs_schema1.codes VALUES ('100517', 'diagnosis_codes', 'F33.1', 'Major depressive disorder, recurrent, moderate', '', '', '');
INSERT INTO gs_schema1.codes VALUES ('100517', 'diagnosis_codes', 'F41.1', 'Generalized anxiety disorder', '', '', '');
INSERT INTO gs_schema1.codes VALUES ('100517', 'diagnosis_codes', 'F43.10', 'Post-traumatic stress disorder, unspecified', '', '', '');
INSERT INTO gs_schema1.codes VALUES ('100517', 'diagnosis_codes', 'F43.23', 'Adjustment disorder with mixed anxiety and depressed mood', '', '', '');
INSERT INTO gs_schema1.codes VALUES ('100517', 'diagnosis_codes', 'F90.0', 'Attention-deficit hyperactivity disorder, predominantly inattentive type', '', '', '');
INSERT INTO gs_schema1.codes VALUES ('100517', 'diagnosis_codes', 'Z63.0', 'Problems in relationship with spouse or partner', '', '', '');
INSERT INTO gs_schema1.codes VALUES ('100517', 'insurance_payers', 'Aetna', '', '', '60054', 'electronic');
INSERT INTO gs_schema1.codes VALUES ('100517', 'insurance_payers', 'Cigna', '', '', '62308', 'electronic');
INSERT INTO gs_schema1.codes VALUES ('100517', 'insurance_payers', 'Humana', '', '', '61101', 'electronic');
INSERT INTO gs_schema1.codes VALUES ('100517', 'insurance_payers', 'Magellan Healthcare', '', '', '01260', 'paper');
INSERT INTO gs_schema1.codes VALUES ('100517', 'insurance_payers', 'UnitedHealthcare', '', '', '87726', 'electronic');
INSERT INTO gs_schema1.codes VALUES ('100533', 'billing_codes', '90791', 'Psychiatric diagnostic evaluation', '200.00', '', '');
INSERT INTO gs_schema1.codes VALUES ('100533', 'billing_codes', '90832', 'Psychotherapy, 30 minutes', '85.00', '', '');
INSERT INTO gs_schema1.codes VALUES ('100533', 'billing_codes', '90834', 'Psychotherapy, 45 minutes', '120.00', '', '');
INSERT INTO gs_schema1.codes VALUES ('100533', 'billing_codes', '90837', 'Psychotherapy, 60 minutes', '150.00', '', '');
INSERT INTO gs_schema1.codes VALUES ('100533', 'billing_codes', '90846', 'Family psychotherapy without the patient present', '130.00', '', '');
INSERT INTO gs_schema1.codes VALUES ('100533', 'billing_codes', '90847', 'Family psychotherapy with the patient present', '140.00', '', '');
INSERT INTO gs_schema1.codes VALUES ('100533', 'billing_codes', '90853', 'Group psychotherapy', '60.00', '', '');
INSERT INTO gs_schema1.codes VALUES ('100533', 'diagnosis_codes', 'F32.1', 'Major depressive disorder, single episode, moderate', '', '', '');
INSERT INTO gs_schema1.codes VALUES ('100533', 'diagnosis_codes', 'F33.1', 'Major depressive disorder, recurrent, moderate', '', '', '');
INSERT INTO gs_schema1.codes VALUES ('100533', 'diagnosis_codes', 'F41.1', 'Generalized anxiety disorder', '', '', '');
INSERT INTO gs_schema1.codes VALUES ('100533', 'diagnosis_codes', 'F43.10', 'Post-traumatic stress disorder, unspecified', '', '', '');
INSERT INTO gs_schema1.codes VALUES ('100533', 'diagnosis_codes', 'F43.23', 'Adjustment disorder with mixed anxiety and depressed mood', '', '', '');
INSERT INTO gs_schema1.codes VALUES ('100533', 'diagnosis_codes', 'F90.0', 'Attention-deficit hyperactivity disorder, predominantly inattentive type', '', '', '');
INSERT INTO gs_schema1.codes VALUES ('100533', 'diagnosis_codes', 'Z63.0', 'Problems in relationship with spouse or partner', '', '', '');
INSERT INTO gs_schema1.codes VALUES ('100533', 'insurance_payers', 'Aetna', '', '', '60054', 'electronic');
INSERT INTO gs_schema1.codes VALUES ('100533', 'insurance_payers', 'Cigna', '', '', '62308', 'electronic');
INSERT INTO gs_schema1.codes VALUES ('100533', 'insurance_payers', 'Humana', '', '', '61101', 'electronic');
INSERT INTO gs_schema1.codes VALUES ('100533', 'insurance_payers', 'Magellan Healthcare', '', '', '01260', 'paper');
INSERT INTO gs_schema1.codes VALUES ('100533', 'insurance_payers', 'UnitedHealthcare', '', '', '87726', 'electronic');
INSERT INTO gs_schema1.codes VALUES ('100561', 'billing_codes', '90791', 'Psychiatric diagnostic evaluation', '200.00', '', '');
INSERT INTO gs_schema1.codes VALUES ('100561', 'billing_codes', '90832', 'Psychotherapy, 30 minutes', '85.00', '', '');
INSERT INTO gs_schema1.codes VALUES ('100561', 'billing_codes', '90834', 'Psychotherapy, 45 minutes', '120.00', '', '');
INSERT INTO gs_schema1.codes VALUES ('100561', 'billing_codes', '90837', 'Psychotherapy, 60 minutes', '150.00', '', '');
INSERT INTO gs_schema1.codes VALUES ('100561', 'billing_codes', '90846', 'Family psychotherapy without the patient present', '130.00', '', '');
INSERT INTO gs_schema1.codes VALUES ('100561', 'billing_codes', '90847', 'Family psychotherapy with the patient present', '140.00', '', '');
INSERT INTO gs_schema1.codes VALUES ('100561', 'billing_codes', '90853', 'Group psychotherapy', '60.00', '', '');
INSERT INTO gs_schema1.codes VALUES ('100561', 'diagnosis_codes', 'F32.1', 'Major depressive disorder, single episode, moderate', '', '', '');
INSERT INTO gs_schema1.codes VALUES ('100561', 'diagnosis_codes', 'F33.1', 'Major depressive disorder, recurrent, moderate', '', '', '');
INSERT INTO gs_schema1.codes VALUES ('100561', 'diagnosis_codes', 'F41.1', 'Generalized anxiety disorder', '', '', '');
INSERT INTO gs_schema1.codes VALUES ('100561', 'diagnosis_codes', 'F43.10', 'Post-traumatic stress disorder, unspecified', '', '', '');
INSERT INTO gs_schema1.codes VALUES ('100561', 'diagnosis_codes', 'F43.23', 'Adjustment disorder with mixed anxiety and depressed mood', '', '', '');
INSERT INTO gs_schema1.codes VALUES ('100561', 'diagnosis_codes', 'F90.0', 'Attention-deficit hyperactivity disorder, predominantly inattentive type', '', '', '');
INSERT INTO gs_schema1.codes VALUES ('100561', 'diagnosis_codes', 'Z63.0', 'Problems in relationship with spouse or partner', '', '', '');
INSERT INTO gs_schema1.codes VALUES ('100561', 'insurance_payers', 'Aetna', '', '', '60054', 'electronic');
INSERT INTO gs_schema1.codes VALUES ('100561', 'insurance_payers', 'Cigna', '', '', '62308', 'electronic');
INSERT INTO gs_schema1.codes VALUES ('100561', 'insurance_payers', 'Humana', '', '', '61101', 'electronic');
INSERT INTO gs_schema1.codes VALUES ('100561', 'insurance_payers', 'Magellan Healthcare', '', '', '01260', 'paper');
INSERT INTO gs_schema1.codes VALUES ('100561', 'insurance_payers', 'UnitedHealthcare', '', '', '87726', 'electronic');

INSERT INTO gs_schema1.meta VALUES ('application', 'groupsync');
INSERT INTO gs_schema1.meta VALUES ('schema_version', '1');
INSERT INTO gs_schema1.meta VALUES ('lineage', '587e1bc0-c835-417e-a902-ae78df83d708');
INSERT INTO gs_schema1.meta VALUES ('write_count', '0');
INSERT INTO gs_schema1.meta VALUES ('created_at', '2026-11-27T02:28:14Z');
INSERT INTO gs_schema1.meta VALUES ('revision', '5');

INSERT INTO gs_schema1.usernames VALUES ('jsmith', 'jsmith', '100482', '$argon2id$v=19$m=19456,t=2,p=1$99bl2+frSUITnhdlsqElKA$NFPgjrEBRvi9scvFKs5ojzE8td+QiYsN5Nauwn2YNX4', '2026-11-27T02:28:14Z');
INSERT INTO gs_schema1.usernames VALUES ('rjones', 'rjones', '100517', '$argon2id$v=19$m=19456,t=2,p=1$+1KBSOQzCx0FiErZd3HNjw$y1QzjAgepVPPUWxyPpeyffimHSB3tyT2gB49oDVlfwA', '2026-11-27T02:28:14Z');
INSERT INTO gs_schema1.usernames VALUES ('mgarcia', 'mgarcia', '100533', '$argon2id$v=19$m=19456,t=2,p=1$kSVcsuDQBt6HbWTlmKFN4Q$I80YJ4xGtVutTdh9oZtSo19X1vR7knj3f5hjmw+5G+M', '2026-11-27T02:28:14Z');
INSERT INTO gs_schema1.usernames VALUES ('dchen', 'dchen', '100561', '$argon2id$v=19$m=19456,t=2,p=1$4tuTCCyaIUzpAOdEYrzZbg$oLswIqicu1UEAVoBw+2lGUcluw2Ge9vqy6bgNda8umk', '2026-11-27T02:28:15Z');
INSERT INTO gs_schema1.usernames VALUES ('billing', 'billing', '100482', '$argon2id$v=19$m=19456,t=2,p=1$Bc/7bkhGLP/NsyWaaLEtMQ$EX+m2V/b05si3tiJuIwl4NaoaLjY5Wa/fzrQy0k9+d0', '2026-11-27T02:28:15Z');
INSERT INTO gs_schema1.usernames VALUES ('frontdesk', 'frontdesk', '100482', '$argon2id$v=19$m=19456,t=2,p=1$SvXNuL7Se9oCGL/gW9AjZA$xcobTt5XUsoU4SDPyEXSew4n4w9ov/Bm+WXcf7RfaUs', '2026-11-27T02:28:15Z');
INSERT INTO gs_schema1.usernames VALUES ('riverside-admin', 'riverside-admin', '100482', '$argon2id$v=19$m=19456,t=2,p=1$TNL/DvAptDAnCcuKZ9rnGQ$tCpBbUFzDooqegE58RCFr8jXUNy8vKb7q6hIdGyGbjE', '2026-11-27T02:28:15Z');

SELECT pg_catalog.setval('gs_schema1.audit_id_seq', 102, true);

SELECT pg_catalog.setval('gs_schema1.notices_id_seq', 1, false);

SELECT pg_catalog.setval('gs_schema1.write_count_seq', 107, true);

ALTER TABLE ONLY gs_schema1.access
    ADD CONSTRAINT access_pkey PRIMARY KEY (ukey, account_id);

ALTER TABLE ONLY gs_schema1.accounts
    ADD CONSTRAINT accounts_pkey PRIMARY KEY (account_id);

ALTER TABLE ONLY gs_schema1.audit
    ADD CONSTRAINT audit_pkey PRIMARY KEY (id);

ALTER TABLE ONLY gs_schema1.codes
    ADD CONSTRAINT codes_pkey PRIMARY KEY (account_id, file, key);

ALTER TABLE ONLY gs_schema1.login_failures
    ADD CONSTRAINT login_failures_pkey PRIMARY KEY (ukey);

ALTER TABLE ONLY gs_schema1.meta
    ADD CONSTRAINT meta_pkey PRIMARY KEY (key);

ALTER TABLE ONLY gs_schema1.notices
    ADD CONSTRAINT notices_pkey PRIMARY KEY (id);

ALTER TABLE ONLY gs_schema1.usernames
    ADD CONSTRAINT usernames_pkey PRIMARY KEY (ukey);

CREATE TRIGGER access_counts AFTER INSERT OR DELETE OR UPDATE ON gs_schema1.access FOR EACH ROW EXECUTE FUNCTION gs_schema1.groupsync_count_write();

CREATE TRIGGER accounts_counts AFTER INSERT OR DELETE OR UPDATE ON gs_schema1.accounts FOR EACH ROW EXECUTE FUNCTION gs_schema1.groupsync_count_write();

CREATE TRIGGER audit_append_only BEFORE DELETE OR UPDATE ON gs_schema1.audit FOR EACH ROW EXECUTE FUNCTION gs_schema1.groupsync_append_only();

CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON gs_schema1.audit FOR EACH STATEMENT EXECUTE FUNCTION gs_schema1.groupsync_append_only();

CREATE TRIGGER codes_counts AFTER INSERT OR DELETE OR UPDATE ON gs_schema1.codes FOR EACH ROW EXECUTE FUNCTION gs_schema1.groupsync_count_write();

CREATE TRIGGER notices_append_only BEFORE DELETE OR UPDATE ON gs_schema1.notices FOR EACH ROW EXECUTE FUNCTION gs_schema1.groupsync_append_only();

CREATE TRIGGER notices_no_truncate BEFORE TRUNCATE ON gs_schema1.notices FOR EACH STATEMENT EXECUTE FUNCTION gs_schema1.groupsync_append_only();

CREATE TRIGGER usernames_counts AFTER INSERT OR DELETE OR UPDATE ON gs_schema1.usernames FOR EACH ROW EXECUTE FUNCTION gs_schema1.groupsync_count_write();

ALTER TABLE ONLY gs_schema1.access
    ADD CONSTRAINT access_account_id_fkey FOREIGN KEY (account_id) REFERENCES gs_schema1.accounts(account_id);

ALTER TABLE ONLY gs_schema1.access
    ADD CONSTRAINT access_ukey_fkey FOREIGN KEY (ukey) REFERENCES gs_schema1.usernames(ukey);

ALTER TABLE ONLY gs_schema1.codes
    ADD CONSTRAINT codes_account_id_fkey FOREIGN KEY (account_id) REFERENCES gs_schema1.accounts(account_id);

ALTER TABLE ONLY gs_schema1.usernames
    ADD CONSTRAINT usernames_home_fkey FOREIGN KEY (home) REFERENCES gs_schema1.accounts(account_id);


