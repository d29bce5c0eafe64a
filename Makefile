.PHONY: run up test test-system lock stubs
run:   ## set up, then run the orders example through the embedded mesh (check, compile, verify on Flink, gate, start)
	# A demo: its mesh state starts fresh in out/.mesh each time, so a second run is not a duplicate
	# of the first (the router rejects re-deploying identical content to a domain).
	scripts/bootstrap.sh && rm -rf out/.mesh && STREAMWRIGHT_HOME=$(CURDIR)/out/.mesh \
	  .venv/bin/streamwright run examples/orders/orders-request-v3.md --out out
up:    ## set up, then start the embedded mesh (broker + every service) until Ctrl-C
	scripts/bootstrap.sh && .venv/bin/streamwright up
test:  ## set up, then lint, type-check and run the tests (all but the whole-mesh tier)
	scripts/test.sh
test-system: ## set up, then the whole-mesh tests: every example end to end, scale-out, faults, Flink session cluster (~12 min)
	scripts/test.sh -m system
lock:  ## re-resolve requirements/lock.txt after a dependency change
	scripts/lock.sh
stubs: ## regenerate the gRPC stubs from proto/
	.venv/bin/python scripts/gen_protos.py
