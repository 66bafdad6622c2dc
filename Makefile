# The front door. `make` alone lists every target with one line each.
# Long shell steps live in scripts/; this file only names them.
SHELL        := /bin/bash
.DEFAULT_GOAL := help

# Images are named $(REGISTRY)/producer:$(TAG). The default needs no registry at all.
REGISTRY ?= fogdeft
TAG      ?= latest

##@ Getting started (README.md; the tests: CONTRIBUTING.md)
.PHONY: help
help: ## List the targets (this text)
	@awk 'BEGIN {FS = ":.*## "} /^##@ / {printf "%s%s\n", (n++ ? "\n" : ""), substr($$0, 5)} /^[a-zA-Z0-9_-]+:.*## / {printf "  %-19s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: deps
WHAT ?= test
deps: ## Install what `make test` needs (Debian/Ubuntu, as root or with sudo); WHAT=bench for `make bench`, WHAT=fuzz for `make fuzz`
	scripts/deps.sh $(WHAT)

##@ The programs
.PHONY: build run-producer run-consumer
build: ## Build the producer, the consumer and the autoscaler for this machine (target/release/)
	cargo build --release --locked

run-producer: build ## Run the producer on 0.0.0.0:5000 (Ctrl-C stops it)
	./target/release/producer

run-consumer: build ## Run the consumer against http://127.0.0.1:5000/number
	./target/release/consumer

##@ Tests
.PHONY: test lint test-rust test-conformance test-page test-caching
test: lint test-rust test-page test-caching test-cross test-cross-suites test-32bit test-memory-check test-pi-install test-compose test-compose-build test-memory test-multiarch test-swarm test-swarm-lab test-autoscale test-vm-lab test-tosca ## Run every check: lint, unit, integration and end-to-end tests
	@echo "make test: all checks passed"

lint: ## cargo fmt --check, clippy with warnings as errors (for this machine and both kinds of Mac), shellcheck, and no early-exit pipelines
	scripts/lint.sh

test-rust: ## Unit and integration tests of the programs and of the engine (real binaries, loopback, fake APIs)
	cargo test --release --locked --workspace

test-conformance: ## Only the RFC 9112 comparisons with Go and nginx, and their tables (test-rust runs them too)
	cargo test --release --locked --test conformance --test framing

test-caching: build ## REDbot, the HTTP linter, on every route of the producer and the autoscaler: no caching warning
	scripts/test-caching.sh

SCREENSHOT ?=
test-page: build ## The live page at / in headless Chromium, 3 producers behind a round-robin front (SCREENSHOT=file.png saves it)
	scripts/test-page.sh $(SCREENSHOT)

SECONDS ?= 60
.PHONY: fuzz
fuzz: ## Fuzz the HTTP engine's head parser, chunk decoder and connections, SECONDS each (make deps WHAT=fuzz first)
	scripts/fuzz.sh $(SECONDS)

##@ Docker images and Compose (Scenario 01)
COMPOSE := scripts/compose.sh
export REGISTRY TAG

.PHONY: images compose-up logs compose-down test-compose test-compose-build compose-build-clean test-memory test-memory-check
# This machine's platform is asked for here, not for every make: on a machine that scripts/lib.sh's
# table lacks, only this stops (one line, exit 2), before anything is built.
images: ## Build this machine's images, tagged REGISTRY/producer:TAG, .../consumer:TAG, .../autoscaler:TAG
	platform=$$(bash -c '. scripts/lib.sh && host_platform') && \
	  scripts/cross.sh $$platform && scripts/build-images.sh $$platform $(REGISTRY) $(TAG)

compose-up: images ## Build everything and start both services in the background
	$(COMPOSE) up -d
	@echo "Producer: curl http://localhost:$${PRODUCER_PORT:-5000}/number   Logs: make logs   Stop: make compose-down"

logs: ## Follow the logs of both services (Ctrl-C stops following)
	$(COMPOSE) logs --follow

compose-down: ## Stop and remove both services and their network
	$(COMPOSE) down

test-compose: ## End-to-end test of Scenario 01 on the real Docker engine
	scripts/test-compose.sh

test-compose-build: ## `docker compose up --build` in a fresh clone: the images compile the programs (a stand-in Rust image)
	scripts/test-compose-build.sh

compose-build-clean: ## Remove the stand-in Rust image that test-compose-build keeps (the next run makes it again)
	scripts/rust-builder-image.sh remove

test-memory: ## The producer's image at Compose's memory limit and MAX_CONNECTIONS, against hostile clients of every kind
	scripts/test-memory.sh

test-memory-check: ## compose-up, swarm-init and swarm-deploy warn on an engine without memory limits (a stand-in)
	scripts/test-memory-check.sh

##@ Raspberry Pi builds: cross-compiled binaries and multi-arch images (pi/README.md)
.PHONY: cross test-cross test-cross-suites test-32bit images-multiarch test-multiarch
cross: ## Static binaries for amd64, arm64, armv7 and armv6 (Pi Zero, Pi 1) in dist/, with dist/SHA256SUMS
	scripts/cross.sh

test-cross: ## Check the binaries (static, <= 1 MiB, right machine, pi/README.md's sizes within 3%); run arm ones under QEMU
	scripts/test-cross.sh

test-cross-suites: ## The hostile, conformance and framing suites against each dist/ producer (arm ones under QEMU)
	scripts/test-cross-suites.sh

test-32bit: ## The engine's unit tests and tests/ built for armv7 (a 32-bit usize), run under qemu-arm
	scripts/test-32bit.sh

images-multiarch: ## Push one amd64+arm64+armv7+armv6 tag per program: REGISTRY=registry/namespace TAG=tag
	scripts/images-multiarch.sh $(REGISTRY) $(TAG)

test-multiarch: ## Publish to a throwaway local registry and check the platforms
	scripts/test-multiarch.sh

##@ Raspberry Pi without Docker
.PHONY: pi-install pi-uninstall test-pi-install
pi-install: ## Install both programs as systemd services on a Pi: PI=user@host
	@test -n "$(PI)" || { echo "usage: make pi-install PI=user@host" >&2; exit 2; }
	scripts/pi-install.sh $(PI)

pi-uninstall: ## Stop and remove them again: PI=user@host
	@test -n "$(PI)" || { echo "usage: make pi-uninstall PI=user@host" >&2; exit 2; }
	scripts/pi-uninstall.sh $(PI)

test-pi-install: ## Test pi-install/pi-uninstall against a stand-in Pi (local sshd, temp prefix)
	scripts/test-pi-install.sh

##@ Docker Swarm (Scenario 02; pi/README.md)
# The stack's name, its networking (vip: VIP + routing mesh; dnsrr: for kernels without IPVS),
# the producer replicas for swarm-scale, and AUTOSCALE=1 to add autoscaler/docker-stack.autoscale.yml.
STACK     ?= fogdeft
SWARM_NET ?= vip
N         ?= 3
AUTOSCALE ?= 0
export SWARM_NET AUTOSCALE

.PHONY: swarm-init swarm-deploy swarm-ps swarm-scale swarm-update swarm-rollback swarm-rm swarm-leave test-swarm
swarm-init: ## Make this engine a swarm manager and print the workers' join command
	scripts/swarm-init.sh

swarm-deploy: $(if $(findstring /,$(REGISTRY)),,images) ## Deploy docker-stack.yml as STACK and wait for every replica (SWARM_NET=vip|dnsrr, AUTOSCALE=1)
	scripts/swarm-deploy.sh $(STACK)

swarm-ps: ## Show the stack's running tasks and the node of each
	docker stack ps $(STACK) --filter desired-state=running --format 'table {{.Name}}\t{{.Node}}\t{{.CurrentState}}\t{{.Image}}'

swarm-scale: ## Run N producer replicas (N=3) and wait for them
	docker service scale --detach=false $(STACK)_producer=$(N) >/dev/null
	@echo "==> $(STACK)_producer now runs $(N) replicas"

swarm-update: $(if $(findstring /,$(REGISTRY)),,images) ## Rolling update of both services to TAG, no downtime
	scripts/swarm-update.sh $(STACK)

swarm-rollback: ## Return both services to the spec before the last update
	docker service rollback --quiet --detach=false $(STACK)_producer >/dev/null
	docker service rollback --quiet --detach=false $(STACK)_consumer >/dev/null
	@echo "==> rolled back $(STACK)_producer and $(STACK)_consumer"

swarm-rm: ## Remove the stack and wait until nothing of it is left
	scripts/swarm-rm.sh $(STACK)

swarm-leave: ## Leave the swarm (on the last manager this ends the swarm)
	docker swarm leave --force

test-swarm: ## End-to-end test on a real swarm: deploy, spread, scale, kill, update, rollback, remove
	scripts/test-swarm.sh

##@ Swarm lab: Docker hosts on this Linux machine (root), to rehearse the Pi cluster (vm/README.md)
# Point the swarm-* targets at the lab: export DOCKER_HOST=unix:///run/fogdeft-lab/node-1/docker.sock
# LAB_NODES=5 LAB_MANAGERS=3 makes the lab with a quorum that the drills need (drills/README.md).
NODE ?= 3
LAB_NODES ?= 3
LAB_MANAGERS ?= 1
export LAB_NODES LAB_MANAGERS
.PHONY: swarm-lab-up swarm-lab-down swarm-lab-kill swarm-lab-start swarm-lab-cut swarm-lab-heal test-swarm-lab
swarm-lab-up: images ## Start LAB_NODES (3) dockerd hosts in network namespaces, LAB_MANAGERS (1) of them managers, form a swarm, load the images
	vm/swarm-lab-up.sh

swarm-lab-down: ## Remove every daemon, namespace, cgroup and folder of the lab
	vm/swarm-lab-down.sh

swarm-lab-kill: ## Pull the plug on lab node NODE (NODE=3): its daemon and containers die at once
	vm/swarm-lab-node.sh kill $(NODE)

swarm-lab-start: ## Power lab node NODE back on: its dockerd starts again and rejoins the swarm
	vm/swarm-lab-node.sh start $(NODE)

swarm-lab-cut: ## Pull lab node NODE's network cable: it runs on, cut off from the others
	vm/swarm-lab-node.sh cut $(NODE)

swarm-lab-heal: ## Plug lab node NODE's cable back in
	vm/swarm-lab-node.sh heal $(NODE)

test-swarm-lab: ## End-to-end test on a 5-node lab (3 managers): spread, cross-host traffic, update, drain, node loss, then the drills
	vm/test-swarm-lab.sh

##@ Drills: the cluster's failures on purpose, on the lab or your Pis (drills/README.md)
# A swarm with 3 managers and the stack deployed: make swarm-lab-up LAB_NODES=5 LAB_MANAGERS=3,
# then make swarm-deploy with DOCKER_HOST at a manager. On Pis: ENGINES="ssh://pi@pi1 ..." (every node).
.PHONY: drill-leader drill-quorum drill-recover drill-partition drill-restart drill-release
drill-leader: ## 1. Kill the leader: a new one is elected, the services answer on, the old one rejoins
	STACK=$(STACK) drills/drills.sh leader

drill-quorum: ## 2. Kill two of three managers: the services answer on, management refuses
	STACK=$(STACK) drills/drills.sh quorum

drill-recover: ## 2b. After drill-quorum: --force-new-cluster on the survivor, managers rejoin, the stack intact
	STACK=$(STACK) drills/drills.sh recover

drill-partition: ## 3. Cut a worker's cable: its replicas move, and no duplicate stays once it is back
	STACK=$(STACK) drills/drills.sh partition

drill-restart: ## 4. Power cut of the whole cluster: the time to the first number and to all replicas
	STACK=$(STACK) drills/drills.sh restart

drill-release: ## 5. A release that is never healthy is rolled back; a replica that turns sick is replaced
	STACK=$(STACK) drills/drills.sh release

##@ Day 03: TOSCA (the whole system in tosca/service.yaml, deployed by xOpera over SSH; tosca/README.md)
# INPUTS picks the fog nodes and settings: tosca/inputs-local.yaml (this machine alone, the
# default) or tosca/inputs-lab.yaml (the lab of make tosca-lab-up), or a file of your own for Pis.
INPUTS ?= tosca/inputs-local.yaml
.PHONY: tosca-validate tosca-deploy tosca-undeploy tosca-lab-up test-tosca
tosca-validate: ## Check the service template and INPUTS (types, requirements, property constraints)
	scripts/tosca.sh validate $(INPUTS)

tosca-deploy: ## Form the swarm and deploy the stack as tosca/service.yaml says, on the nodes in INPUTS; again: only changes
	scripts/tosca.sh deploy $(INPUTS)

tosca-undeploy: ## Remove the stack, the nodes leave the swarm: nothing of the deployment is left
	scripts/tosca.sh undeploy $(INPUTS)

tosca-lab-up: images ## The lab's 3 hosts with no swarm, each with an sshd (root, by key), for INPUTS=tosca/inputs-lab.yaml
	LAB_SSH=1 vm/swarm-lab-up.sh

test-tosca: ## End-to-end test on 3 fresh lab hosts: validate, deploy, redeploy (no-op), one change, undeploy, bad inputs
	scripts/test-tosca.sh

##@ Autoscaling on request rate (Day 2): Prometheus and the autoscaler on the lab (autoscaler/README.md)
.PHONY: test-autoscale autoscale-demo
test-autoscale: ## End-to-end test on the lab: scale up under load, down after it, Prometheus down, labels
	scripts/test-autoscale.sh

autoscale-demo: ## The tutorial's Day 2 exercise on the lab: stepped load, a timeline, demo/autoscale.svg
	scripts/autoscale-demo.sh

##@ VM lab: the tutorial's cluster as QEMU machines (amd64 manager, arm64 and armv7 Pis), root (vm/README.md)
# Publish with REGISTRY=127.0.0.1:5055/fogdeft; deploy with DOCKER_HOST=tcp://172.31.253.11:2375
# and REGISTRY=172.31.253.1:5055/fogdeft (make vm-lab-up prints both; VM_REGISTRY_PORT moves 5055).
CMD ?= nsenter --net=/var/run/docker/netns/ingress_sbox ipvsadm -Ln
.PHONY: vm-lab-up vm-lab-down vm-lab-kill vm-lab-exec vm-lab-clean test-vm-lab
vm-lab-up: ## Boot 3 VMs (amd64, arm64, armv7), form a swarm, start a registry on this host
	vm/vm-lab-up.sh

vm-lab-down: ## Stop every VM and the registry, remove the network; waits until all is gone
	vm/vm-lab-down.sh

vm-lab-kill: ## Pull the plug on VM NODE (NODE=3): its QEMU process is killed outright
	vm/vm-lab-kill.sh $(NODE)

vm-lab-exec: ## Run CMD as root on VM NODE (default CMD: Swarm's IPVS table, ipvsadm -Ln)
	vm/vm-lab-exec.sh $(NODE) $(CMD)

vm-lab-clean: ## Remove the cached guest images (the next vm-lab-up builds them again)
	bash -c '. scripts/lib.sh && . vm/vm-lab.sh && rm -rf "$$VM_CACHE"'

test-vm-lab: ## End-to-end test on the VM lab: arm nodes, registry, routing mesh, update, node loss
	vm/test-vm-lab.sh

##@ Benchmarks (bench/README.md)
.PHONY: bench
bench: ## Measure ours against Go net/http, nginx and Flask (about 10 min): bench/results.md, bench/chart.svg
	scripts/bench.sh
