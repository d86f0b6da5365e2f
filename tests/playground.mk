# `make playground`: Presence Bot (simulated tenant) behind the Microsoft 365 Agents Playground, the
# offline stand-in for Teams. Include from the Makefile after its variables (it uses $(BIN) and
# $(STAMP)):  include tests/playground.mk
#
# Installs what it needs (the project, then the npm packages of tests/js from their lock file), starts
# the bot on http://127.0.0.1:3978 and the Playground on http://127.0.0.1:56150 (loopback only, logs and
# the simulated tenant's state in .presence-bot/playground), and prints the URL to open. Ctrl-C stops both.
# Other ports: make playground PLAYGROUND_PORT=56151 PLAYGROUND_BOT_PORT=3979

PLAYGROUND_JS := tests/js
PLAYGROUND_NPM := $(PLAYGROUND_JS)/node_modules/.package-lock.json
PLAYGROUND_PORT ?= 56150
PLAYGROUND_BOT_PORT ?= 3978

.PHONY: playground

$(PLAYGROUND_NPM): $(PLAYGROUND_JS)/package.json $(PLAYGROUND_JS)/package-lock.json
	@command -v npm >/dev/null || { echo "playground: needs Node.js >= 20.19 and npm on PATH" >&2; exit 1; }
	cd $(PLAYGROUND_JS) && npm ci --no-audit --no-fund
	@touch $@

playground: $(STAMP) $(PLAYGROUND_NPM)
	$(BIN)/python -m tests.support.playground --port $(PLAYGROUND_PORT) --bot-port $(PLAYGROUND_BOT_PORT)
