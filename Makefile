# `make demo` and `make test` work on a fresh machine with Python 3.10 to 3.12: each creates .venv and
# installs the project into it when needed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# torch is installed first and on its own, from the machine's own wheels (pip's find-links: a CPU build on CI)
# when one there fits, its dependencies from the index; only without one from the index, where the newest
# release is a CUDA build of several GB. Override for another build, e.g. `make test TORCH_SPEC='torch==2.11.0'`.
TORCH_SPEC ?= torch>=2.1,<=2.14.1
TORCH_VERSION = $$($(BIN)/python -c "from importlib.metadata import version; print(version('torch'))")
DEMO := data/demo
DEMO_WORK := work_dirs/demo
DEMO_DATA_STAMP := $(DEMO)/.complete
SEED ?= 0
# Images per forward pass in the demos' evaluation: on two cores about 1.4x faster than one at a time, the same
# confusion matrices.
EVAL_BATCH := --batch-size 8

.PHONY: demo demo-data demo-mic demo-mrm demo-encoders demo-unionset demo-ddb test install clean-demo

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -c "import torch" 2>/dev/null || { $(BIN)/pip install -q --no-index --no-deps "$(TORCH_SPEC)" \
		2>/dev/null && $(BIN)/pip install -q "torch==$(TORCH_VERSION)"; } || $(BIN)/pip install -q "$(TORCH_SPEC)"
	$(BIN)/pip install -q -e ".[test]"
	touch $(STAMP)

# One worker per core, each test file on one worker (its module fixtures built once).
test: $(STAMP)
	$(BIN)/python -m pytest -n auto --dist loadfile

# A job for tools/run_parallel.py: the demo config $(2) trained from the source-only model into work dir $(1).
# The runs side by side get one thread each, which on two cores finishes sooner than one after another.
demo_from_source = $(1)="$(BIN)/python run_experiments.py --config configs/demo/$(2).py --work-dir $(DEMO_WORK)/$(1) \
	--cfg-options load_from=$(DEMO_WORK)/source_only/iter_1000.pth"

# The demo, the whole main job on synthetic domains in the real datasets' formats: a source-only model
# (1000 iterations); from it, 400 more iterations three ways, side by side: on the source alone (the baseline)
# and with DACS towards the IDD-like and the Cityscapes-like domain; the two per-target models merged without
# data (Gaussian BatchNorm statistics, and plain averaging for comparison); every model evaluated on both targets, with a
# table and a chart in work_dirs/demo/eval. work_dirs/demo is the demo's own folder and is started afresh.
demo: $(STAMP)
	rm -rf $(DEMO_WORK)
	$(MAKE) demo-data
	$(BIN)/python run_experiments.py --config configs/demo/gta_source_only.py --work-dir $(DEMO_WORK)/source_only
	$(BIN)/python tools/run_parallel.py --log-dir $(DEMO_WORK)/logs \
		$(call demo_from_source,source_only_continued,gta_source_only_continued) \
		$(call demo_from_source,dacs_idd,gta2idd_dacs) $(call demo_from_source,dacs_cityscapes,gta2cityscapes_dacs)
	mkdir -p $(DEMO_WORK)/merged
	$(BIN)/python merge.py $(DEMO_WORK)/dacs_cityscapes/iter_400.pth $(DEMO_WORK)/dacs_idd/iter_400.pth \
		--out $(DEMO_WORK)/merged/gaussian.pth
	$(BIN)/python merge.py $(DEMO_WORK)/dacs_cityscapes/iter_400.pth $(DEMO_WORK)/dacs_idd/iter_400.pth \
		--buffers mean --out $(DEMO_WORK)/merged/mean.pth
	./test.sh configs/demo/gta_source_only.py $(DEMO_WORK)/source_only/iter_1000.pth \
		$(DEMO_WORK)/source_only_continued/iter_400.pth $(DEMO_WORK)/dacs_cityscapes/iter_400.pth \
		$(DEMO_WORK)/dacs_idd/iter_400.pth $(DEMO_WORK)/merged/gaussian.pth $(DEMO_WORK)/merged/mean.pth \
		--out $(DEMO_WORK)/eval --targets cityscapes idd $(EVAL_BATCH)

# The synthetic domains in their datasets' raw layouts, converted as real data would be (trainIds, rare-class
# statistics). The stamp marks a complete set for the method demos, which reuse it.
demo-data: $(STAMP)
	rm -f $(DEMO_DATA_STAMP)
	$(BIN)/python tools/make_demo_data.py --out $(DEMO) --overwrite
	$(BIN)/python tools/convert_datasets/gta.py $(DEMO)/gta --nproc 2
	$(BIN)/python tools/convert_datasets/synthia.py $(DEMO)/synthia --nproc 2
	$(BIN)/python tools/convert_datasets/cityscapes.py $(DEMO)/cityscapes --nproc 2
	$(BIN)/python tools/convert_datasets/idd.py $(DEMO)/idd_raw $(DEMO)/idd --nproc 2
	$(BIN)/python tools/convert_datasets/synscapes.py $(DEMO)/synscapes --split-file train.txt --nproc 2
	$(BIN)/python tools/convert_datasets/mapillary.py $(DEMO)/mapillary --nproc 2
	touch $(DEMO_DATA_STAMP)

# A method against DACS, one seed (SEED=1 for the second): `make demo-mic` (MIC), `make demo-mrm` (MRM). A
# source-only model (1000 iterations, as in `make demo`), then from it 400 iterations of DACS and of DACS + the
# method towards the Cityscapes-like and the IDD-like domain, every model evaluated on both targets
# (work_dirs/demo_<method>/seed<SEED>/eval). Reuses the demo data when complete.
demo-mic demo-mrm: demo-%: $(STAMP)
	test -f $(DEMO_DATA_STAMP) || $(MAKE) demo-data
	rm -rf work_dirs/demo_$*/seed$(SEED)
	$(BIN)/python run_experiments.py --config configs/demo/gta_source_only.py --seed $(SEED) \
		--work-dir work_dirs/demo_$*/seed$(SEED)/source_only
	$(BIN)/python tools/run_parallel.py --log-dir work_dirs/demo_$*/seed$(SEED)/logs $(foreach method,dacs $*,$(foreach \
		target,cityscapes idd,$(method)_$(target)="$(BIN)/python run_experiments.py --config \
		configs/demo/gta2$(target)_$(method).py --seed $(SEED) --work-dir work_dirs/demo_$*/seed$(SEED)/$(method)_$(target) \
		--cfg-options load_from=work_dirs/demo_$*/seed$(SEED)/source_only/iter_1000.pth"))
	./test.sh configs/demo/gta_source_only.py $(foreach run,source_only/iter_1000 dacs_cityscapes/iter_400 \
		$*_cityscapes/iter_400 dacs_idd/iter_400 $*_idd/iter_400,work_dirs/demo_$*/seed$(SEED)/$(run).pth) \
		--out work_dirs/demo_$*/seed$(SEED)/eval --targets cityscapes idd

# The user's fork's encoder families at demo size, one seed (SEED=1 for the second): a Swin and a ConvNeXt
# encoder (configs/_base_/models/demo_encoders.py) with the DAFormer head, each trained from scratch on the source
# (1000 iterations, the two side by side), then from it 400 iterations of DACS towards the Cityscapes-like
# domain, and for Swin also DACS with the fork's soft + paste + mmd (the three side by side), every model
# evaluated on both targets (work_dirs/demo_encoders/seed<SEED>/eval_<encoder>).
ENC_WORK := work_dirs/demo_encoders/seed$(SEED)
ENCODERS := swin convnext
ENC_DACS := dacs_swin dacs_convnext dacs_swin_soft_paste_mmd
enc_of = $(word 2,$(subst _, ,$(1)))
demo-encoders: $(STAMP)
	test -f $(DEMO_DATA_STAMP) || $(MAKE) demo-data
	rm -rf $(ENC_WORK)
	$(BIN)/python tools/run_parallel.py --log-dir $(ENC_WORK)/logs $(foreach e,$(ENCODERS),source_only_$(e)="$(BIN)/python \
		run_experiments.py --config configs/demo/gta_source_only_$(e).py --seed $(SEED) --work-dir $(ENC_WORK)/source_only_$(e)")
	$(BIN)/python tools/run_parallel.py --log-dir $(ENC_WORK)/logs $(foreach r,$(ENC_DACS),$(r)="$(BIN)/python \
		run_experiments.py --config configs/demo/gta2cityscapes_$(r).py --seed $(SEED) --work-dir $(ENC_WORK)/$(r) \
		--cfg-options load_from=$(ENC_WORK)/source_only_$(call enc_of,$(r))/iter_1000.pth")
	./test.sh configs/demo/gta_source_only_swin.py $(foreach r,source_only_swin dacs_swin dacs_swin_soft_paste_mmd,\
		$(ENC_WORK)/$(r)/iter_$(if $(findstring source,$(r)),1000,400).pth) --out $(ENC_WORK)/eval_swin --targets cityscapes idd
	./test.sh configs/demo/gta_source_only_convnext.py $(ENC_WORK)/source_only_convnext/iter_1000.pth \
		$(ENC_WORK)/dacs_convnext/iter_400.pth --out $(ENC_WORK)/eval_convnext --targets cityscapes idd

# Union-set multi-source adaptation, one seed (SEED=1 for the second): the GTA- and SYNTHIA-like sources with
# partly overlapping label sets (setting p) adapt, without their data, to the Cityscapes-like target, every stage
# from one command (configs/demo/unionset_gta_synthia2cityscapes_p.py); the table of each source model, their
# average, stage 1 and the final model on the 19 classes is in work_dirs/demo_unionset/seed<SEED>/eval.
US_WORK := work_dirs/demo_unionset/seed$(SEED)
demo-unionset: $(STAMP)
	test -f $(DEMO_DATA_STAMP) || $(MAKE) demo-data
	test -f $(DEMO)/synthia/sample_class_stats.json || $(BIN)/python tools/convert_datasets/synthia.py \
		$(DEMO)/synthia --nproc 2
	rm -rf $(US_WORK)
	$(BIN)/python run_experiments.py configs/demo/unionset_gta_synthia2cityscapes_p.py --seed $(SEED) \
		--work-dir $(US_WORK)

# DDB, one seed (SEED=1 for the second): a source-only model on both demo sources (GTA-like + Synscapes-like,
# 600 iterations) stands in for ImageNet weights; from it, side by side, a shortened DDB round 1 to the
# Cityscapes-like target from one command (two self-training teachers of 200 iterations, their prototypes over 2
# epochs, the cross-path distillation student of 200) and DACS for the same 600 iterations; then the table of all
# of them (work_dirs/demo_ddb/seed<SEED>/eval). The data are made when the demo set lacks the Synscapes-like domain.
DDB_WORK := work_dirs/demo_ddb/seed$(SEED)
DDB_SOURCE := $(DDB_WORK)/source_only/iter_600.pth
demo-ddb: $(STAMP)
	test -f $(DEMO_DATA_STAMP) -a -f $(DEMO)/synscapes/sample_class_stats.json || $(MAKE) demo-data
	rm -rf $(DDB_WORK)
	$(BIN)/python run_experiments.py --config configs/demo/gta_synscapes_source_only.py --seed $(SEED) \
		--work-dir $(DDB_WORK)/source_only
	$(BIN)/python tools/run_parallel.py --log-dir $(DDB_WORK)/logs \
		ddb="$(BIN)/python run_experiments.py configs/demo/ddb_gta_synscapes2cityscapes.py --seed $(SEED) \
		--work-dir $(DDB_WORK)/ddb --cfg-options stages.init=$(DDB_SOURCE)" \
		dacs="$(BIN)/python run_experiments.py --config configs/demo/gta_synscapes2cityscapes_dacs.py --seed $(SEED) \
		--work-dir $(DDB_WORK)/dacs --cfg-options load_from=$(DDB_SOURCE)"
	./test.sh configs/demo/ddb_gta_synscapes2cityscapes.py $(DDB_SOURCE) $(DDB_WORK)/dacs/iter_600.pth \
		$(foreach s,r1_teacher_cu r1_teacher_ca r1_student,$(DDB_WORK)/ddb/$(s)/iter_200.pth) \
		--out $(DDB_WORK)/eval --targets cityscapes

clean-demo:
	rm -rf $(DEMO) $(DEMO_WORK)

# The four-target merging demo: the demo data, a source-only model and one DACS model per target (Cityscapes-,
# IDD-, ACDC-fog- and Dark-Zurich-like; reused when already trained), then tools/merge_table.py (the 15-row
# table of every subset, linear merging, and its heatmap) and one line per rule for the merge of all four:
# linear, task arithmetic, TIES, DARE (task vectors from the source-only model, the DACS models' common start),
# each with Gaussian and with averaged BatchNorm statistics, and with statistics re-estimated on 25 unlabelled
# training images of each target (the one step that uses data). Another seed: make demo-merge4 SEED=1.
M4_WORK := work_dirs/demo_merge4/seed$(SEED)
M4_TARGETS := cityscapes idd acdc_fog darkzurich
M4_SOURCE := $(M4_WORK)/source_only/iter_1000.pth
M4_MODELS := $(foreach t,$(M4_TARGETS),$(M4_WORK)/dacs_$(t)/iter_400.pth)
M4_RULES := linear task-arithmetic ties dare
M4_RECAL := --recalibrate-images 25 --config configs/demo/gta_source_only.py --recalibrate-bn \
	$(DEMO)/cityscapes/leftImg8bit/train $(DEMO)/idd/leftImg8bit/train $(DEMO)/acdc/rgb_anon/fog/train \
	$(DEMO)/darkzurich/rgb_anon/train/night
# merge.py for the merge of all four by rule $(1), with BatchNorm options $(2), into rules/$(1)_$(3).pth.
m4_merge = $(BIN)/python merge.py $(M4_MODELS) --params $(1) $(if $(filter linear,$(1)),,--base $(M4_SOURCE)) \
	$(if $(filter dare,$(1)),--seed $(SEED)) $(2) --force --out $(M4_WORK)/rules/$(1)_$(3).pth
# One job per rule for tools/run_parallel.py, its three merges one after another: most of a merge.py call is
# starting Python and importing the package on one core, so four side by side finish sooner.
m4_rule_job = $(1)="sh -c '$(call m4_merge,$(1),--buffers gaussian,gaussian) && \
	$(call m4_merge,$(1),--buffers mean,mean) && $(call m4_merge,$(1),$(M4_RECAL),recalibrated)'"

.PHONY: demo-merge4
demo-merge4: $(STAMP)
	test -f $(DEMO_DATA_STAMP) || $(MAKE) demo-data
	test -f $(M4_SOURCE) || $(BIN)/python run_experiments.py --config configs/demo/gta_source_only.py \
		--work-dir $(M4_WORK)/source_only --seed $(SEED)
	$(BIN)/python tools/run_parallel.py --log-dir $(M4_WORK)/logs $(foreach t,$(M4_TARGETS),dacs_$(t)="sh -c 'test -f \
		$(M4_WORK)/dacs_$(t)/iter_400.pth || $(BIN)/python run_experiments.py --config configs/demo/gta2$(t)_dacs.py \
		--work-dir $(M4_WORK)/dacs_$(t) --seed $(SEED) --cfg-options load_from=$(M4_SOURCE)'")
	$(BIN)/python tools/merge_table.py configs/demo/gta_source_only.py $(M4_MODELS) --targets $(M4_TARGETS) \
		--out $(M4_WORK)/table $(EVAL_BATCH)
	mkdir -p $(M4_WORK)/rules
	$(BIN)/python tools/run_parallel.py --log-dir $(M4_WORK)/logs $(foreach r,$(M4_RULES),$(call m4_rule_job,$(r)))
	rm -rf $(M4_WORK)/rules_eval
	./test.sh configs/demo/gta_source_only.py \
		$(foreach r,$(M4_RULES),$(foreach b,gaussian mean recalibrated,$(M4_WORK)/rules/$(r)_$(b).pth)) \
		--targets $(M4_TARGETS) --out $(M4_WORK)/rules_eval $(EVAL_BATCH)
	@echo "table: $(M4_WORK)/table/table.md, heatmap: $(M4_WORK)/table/heatmap.png, rules: $(M4_WORK)/rules_eval"
