.PHONY: run test lock stubs
run:   ## set up, then start the embedded mesh (broker + every service) and show it healthy
	scripts/bootstrap.sh && .venv/bin/streamwright up
test:  ## set up, then lint, type-check and run the tests
	scripts/test.sh
lock:  ## re-resolve requirements/lock.txt after a dependency change
	scripts/lock.sh
stubs: ## regenerate the gRPC stubs from proto/
	.venv/bin/python scripts/gen_protos.py
