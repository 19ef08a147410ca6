# basemodel: a PostgreSQL extension (extension/, sql/) and a C client
# library (client/), built and tested from this one PGXS makefile.

EXTVERSION = 0.1

PG_CONFIG ?= pg_config

# The server module.
MODULE_big = basemodel
OBJS = \
	extension/basemodel.o \
	extension/ddl.o \
	extension/guard.o \
	extension/registry.o \
	extension/todict.o \
	extension/trigger.o
MODULEDIR = extension
DATA = extension/basemodel.control $(wildcard sql/basemodel--*.sql)

# Our own code builds without warnings; PostgreSQL's headers need these two
# exceptions under -Wextra (PG_FUNCTION_ARGS and partial initialisers).
PG_CFLAGS = -Wall -Wextra -Werror -Wno-unused-parameter -Wno-missing-field-initializers

# pg_regress and the isolation tester, as `make installcheck` runs them.
REGRESS = $(patsubst test/sql/%.sql,%,$(sort $(wildcard test/sql/*.sql)))
REGRESS_OPTS = --inputdir=test --load-extension=basemodel
ISOLATION = $(patsubst test/isolation/specs/%.spec,%,$(sort $(wildcard test/isolation/specs/*.spec)))
ISOLATION_OPTS = --inputdir=test/isolation --load-extension=basemodel

EXTRA_CLEAN = results regression.diffs regression.out output_iso test/build \
	examples/bot/bot examples/bot/*.o

PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# The client library: its own compiler flags and install rules.
include client/client.mk

.PHONY: test deps bench demo

# Install the Debian packages the build and the tests need (only the missing ones).
deps:
	@scripts/install-deps

# Build, install and run every test suite; prints "N passed, N failed".
test: deps
	@PG_CONFIG=$(PG_CONFIG) test/run $(SUITES)

# Benchmarks against pgbench, moddatetime, to_jsonb and postgres.js (never part
# of `make test`).  QUICK=1: the smaller version, under a minute.  Their own
# Debian packages come on top of the test ones; node and npm from Debian only
# when no node is installed.
bench:
	@scripts/install-deps gnuplot-nox $$(command -v node >/dev/null || echo nodejs npm)
	@QUICK=$(QUICK) PG_CONFIG=$(PG_CONFIG) bench/run

# The demo bot (examples/bot) against a stand-in for the Bot API, on a
# throwaway cluster; DATABASE_URL and BOT_TOKEN change where it runs.
demo: deps
	@examples/bot/demo
