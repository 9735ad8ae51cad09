"""Every MLflow tag key datagov writes, in one place: on runs and on
registered model versions, they are how someone reading only MLflow learns
what a model was trained on and whether that data still holds up."""

STAGE = "datagov.stage"  # pretrain | transfer | transfer-baseline
DATASET = "datagov.dataset"  # name@short digest of the training data
DIGEST = "datagov.digest"  # its full content digest
ROWS = "datagov.rows"
HOLDOUT_EVERY = "datagov.holdout_every"
EVAL_DATASET = "datagov.eval_dataset"
EVAL_DIGEST = "datagov.eval_digest"
SUITES = "datagov.suites"  # the suites the spec required and those of every receipt the gate used
RECEIPTS = "datagov.receipts"  # the receipts it answered from
GATE = "datagov.gate"  # open | waived
CHAIN_HEAD = "datagov.chain_head"  # the catalog's chain head once the run was sealed (an outside anchor)
WAIVER = "datagov.waiver"  # the waiver's reason
WAIVER_ID = "datagov.waiver_id"
STRATEGY = "datagov.strategy"  # finetune | features
ENCODER = "datagov.encoder"  # the encoder URI as written
ENCODER_VERSION = "datagov.encoder_version"  # pinned to one model version
ENCODER_PRETRAIN_DIGEST = "datagov.encoder_pretrain_digest"
WEIGHTS_SHA256 = "datagov.weights_sha256"
LOGGED_MODEL = "datagov.logged_model_id"  # the MLflow LoggedModel registered with the version
DDP_WEIGHT_DIGESTS = "datagov.ddp.weight_digests"
BASELINE_OF = "datagov.baseline_of"
PROVENANCE = "datagov.provenance"  # declared: imported weights whose training data datagov has not seen
DECLARED_TRAINED_ON = "datagov.declared.trained_on"
DECLARED_LICENSE = "datagov.declared.license"
DECLARED_SOURCE = "datagov.declared.source"
DECLARED_ENCODER = "datagov.declared_encoder"  # on models derived from one: the imported encoder
DECLARED_ACCEPTED = "datagov.declared_accepted"  # the acknowledgement's reason
DECLARED_ACCEPTED_ID = "datagov.declared_accepted_id"  # its waiver row
AUDIT = "datagov.audit"  # passed | failed, set by `datagov audit run`
AUDIT_ID = "datagov.audit_id"
PROMOTION_ID = "datagov.promotion_id"
PROMOTION_WAIVER = "datagov.promotion_waiver"
PROMOTION_REQUESTED_BY = "datagov.promotion_requested_by"  # team catalog: the engineer who asked
PROMOTION_APPROVED_BY = "datagov.promotion_approved_by"  # the steward who approved (never the requester)
WAIVER_REQUESTED_BY = "datagov.waiver_requested_by"
WAIVER_APPROVED_BY = "datagov.waiver_approved_by"  # or "not approved by a second person" on the DuckDB file
PROMOTED_PREFIX = "datagov.promoted."  # + alias: when it was promoted there
FLAGGED = "datagov.flagged"  # erasure | license | deletion: its training content changed after training
FLAG_IDS = "datagov.flag_ids"  # the catalog's model_flags records, comma-separated
ERASURE_ID = "datagov.erasure_id"  # the erasure that removed items of its training content
RETIRED = "datagov.retired"  # `models retire`: the reason
