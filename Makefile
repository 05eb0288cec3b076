# runnel: `make run` starts a single-node broker on 127.0.0.1:9092 (data in ./data),
# `make test` builds everything and runs every test. Both install what is missing.
BUILD ?= build
FUZZ_BUILD ?= build-fuzz
JOBS ?= 2
LISTEN ?= 127.0.0.1:9092
DATA ?= ./data

DEB_PACKAGES := build-essential cmake ninja-build pkg-config clang libclang-rt-14-dev \
  libasio-dev libfmt-dev libspdlog-dev libcli11-dev zlib1g-dev libsnappy-dev liblz4-dev \
  libzstd-dev libisal-dev libssl-dev nlohmann-json3-dev libgtest-dev libbenchmark-dev \
  librdkafka-dev kcat python3 python3-kafka libcpp-httplib-dev etcd-server curl \
  python3-confluent-kafka nftables iproute2 prometheus chromium python3-websocket

.PHONY: all deps build run cluster test unit integration fuzz fuzz-build fuzz-short chaos bench clean format

all: build

deps:
	@./tools/install-deps.sh $(DEB_PACKAGES)

$(BUILD)/build.ninja:
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo

build: deps $(BUILD)/build.ninja
	cmake --build $(BUILD) -j $(JOBS)

run: build
	mkdir -p $(DATA)
	$(BUILD)/runnel serve --data-dir $(DATA) --listen $(LISTEN)

# A local etcd and three brokers on 127.0.0.1:9092-9094 (data under $(DATA)/cluster).
cluster: build
	./tools/cluster.sh $(BUILD) $(DATA)

unit: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

integration: build
	./tests/integration/run.sh $(BUILD)

$(FUZZ_BUILD)/build.ninja:
	CXX=clang++ cmake -S . -B $(FUZZ_BUILD) -G Ninja -DRUNNEL_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo

fuzz-build: deps $(FUZZ_BUILD)/build.ninja
	cmake --build $(FUZZ_BUILD) -j $(JOBS)

# A short run per target (20,000 inputs or 20 s, whichever ends first): part of `make test`.
fuzz-short: fuzz-build
	./tests/fuzz/run.sh $(FUZZ_BUILD) 20000 20

# Longer fuzzing, by hand.
fuzz: fuzz-build
	./tests/fuzz/run.sh $(FUZZ_BUILD) 2000000 3600

# Fault injection (tests/chaos, needs root): CHAOS_SECONDS of faults, CHAOS_SEED to replay.
# `make test` runs a short fixed-seed round of it as the integration suite chaos/short.
CHAOS_SECONDS ?= 300
CHAOS_SEED ?=
# With RUNNEL_BIN set, it runs that binary and builds nothing.
chaos: $(if $(RUNNEL_BIN),deps,build)
	RUNNEL_BIN=$${RUNNEL_BIN:-$(BUILD)/runnel} CHAOS_SECONDS=$(CHAOS_SECONDS) CHAOS_SEED=$(CHAOS_SEED) \
	  /usr/bin/python3 tests/chaos/chaos.py

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)
	$(MAKE) fuzz-short
	./tests/integration/run.sh $(BUILD)

bench: build
	./bench/run.sh $(BUILD)

format:
	clang-format -i $$(git ls-files 'src/*.cc' 'src/*.h' 'tests/*.cc' 'bench/*.cc')

clean:
	rm -rf $(BUILD) $(FUZZ_BUILD)
