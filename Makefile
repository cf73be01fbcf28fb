# rnnviz: `make demo` runs the main job, `make test` runs the test suite; both set everything up first.
# Override the interpreter, the venv folder or the torch requirement, e.g.
#   make test PYTHON=python3.12 TORCH="torch==2.11.0" VENV=.venv-211
PYTHON ?= python3
VENV ?= .venv
TORCH ?= torch==2.13.0
EXTRAS ?= dev
OUT ?= out
BIN := $(VENV)/bin
STAMP := $(VENV)/.rnnviz-installed

.PHONY: setup demo test lint notebooks clean

setup: $(STAMP)

# Torch first (a pinned CPU wheel by default, so no CUDA packages are pulled), then the project.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "$(TORCH)"
	$(BIN)/python -m pip install --quiet -e ".[$(EXTRAS)]"
	touch $(STAMP)

# The main job: a tour of the cells, the demo capacity study (resumes from its store when run again),
# then every notebook executed in demo mode and rendered to HTML with its figures. One line per stage,
# then a summary of what was written where.
demo: setup
	@echo "[1/3] tour of the cells -> $(OUT)/cells"
	@$(BIN)/rnnviz tour --out $(OUT)/cells
	@echo "[2/3] capacity study (demo preset) -> $(OUT)/capacity"
	@$(BIN)/rnnviz capacity --preset demo --out $(OUT)/capacity
	@echo "[3/3] notebooks (demo mode) -> $(OUT)/notebooks"
	@$(BIN)/rnnviz notebooks --out $(OUT)/notebooks --mode demo --capacity $(OUT)/capacity
	@echo ""
	@echo "Done. Wrote:"
	@echo "  $(OUT)/cells/cell_responses.png    the cells before training: memory time scale, gates"
	@echo "  $(OUT)/capacity/                   the capacity study's results (tables and figures)"
	@echo "  $(OUT)/notebooks/*.html            every notebook, executed, with its figures"
	@echo "  $(OUT)/notebooks/figures/          the figures as PNG and PDF"
	@echo "Open $(OUT)/notebooks/index.html first."

# The unit tests, then every notebook executed in smoke mode (RNNVIZ_SMOKE=1: seconds each).
test: setup lint
	RNNVIZ_SMOKE=1 $(BIN)/python -m pytest -n 2 --durations=15 --nbmake --nbmake-timeout=600 tests notebooks

lint: setup
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) $(OUT) .pytest_cache .ruff_cache
