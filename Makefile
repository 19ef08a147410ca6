# basemodel: a PostgreSQL extension (extension/, sql/) and a C client
# library (client/, which has its own Makefile: `make -C client` builds the
# library alone).  This PGXS makefile builds, installs and tests both.

# The source tree: here, or elsewhere in a VPATH build (make -f
# SRC/Makefile VPATH=SRC, as pg_buildext runs it).
SRC := $(patsubst %/,%,$(dir $(abspath $(lastword $(MAKEFILE_LIST)))))

# One version for everything: the VERSION file, MAJOR.MINOR.PATCH.  The
# extension's version (the control file, the SQL script names) is
# MAJOR.MINOR: a patch release changes no SQL.
BASEMODEL_VERSION := $(strip $(file < $(SRC)/VERSION))
EXTVERSION = $(word 1,$(subst ., ,$(BASEMODEL_VERSION))).$(word 2,$(subst ., ,$(BASEMODEL_VERSION)))

PG_CONFIG ?= pg_config

# The server module.
MODULE_big = basemodel
OBJS = \
	extension/basemodel.o \
	extension/call.o \
	extension/ddl.o \
	extension/guard.o \
	extension/register.o \
	extension/registry.o \
	extension/todict.o \
	extension/trigger.o
MODULEDIR = extension
# a VPATH build puts the objects in a directory of its own
ifdef VPATH
$(shell mkdir -p extension)
endif
DATA = extension/basemodel.control $(patsubst $(SRC)/%,%,$(wildcard $(SRC)/sql/basemodel--*.sql))

# Our own code builds without warnings; PostgreSQL's headers need these two
# exceptions under -Wextra (PG_FUNCTION_ARGS and partial initialisers).
PG_CFLAGS = -Wall -Wextra -Werror -Wno-unused-parameter -Wno-missing-field-initializers

# pg_regress and the isolation tester, as `make installcheck` runs them.  The
# scratch database is UTF8 (made from template0, in the server's locale) and
# psql talks UTF8 to it, whatever the caller's locale: the
# expected files hold non-ASCII names and psql's column widths.
REGRESS = $(patsubst $(SRC)/test/sql/%.sql,%,$(sort $(wildcard $(SRC)/test/sql/*.sql)))
REGRESS_OPTS = --inputdir=$(SRC)/test --load-extension=basemodel --encoding=UTF8
ISOLATION = $(patsubst $(SRC)/test/isolation/specs/%.spec,%,$(sort $(wildcard $(SRC)/test/isolation/specs/*.spec)))
ISOLATION_OPTS = --inputdir=$(SRC)/test/isolation --load-extension=basemodel --encoding=UTF8

EXTRA_CLEAN = results regression.diffs regression.out output_iso test/build \
	examples/bot/bot examples/bot/*.o

# pg_config comes with the build dependencies (`make deps`): without it,
# the goals that need it say so, and the others (deps, test, demo, bench)
# work as they are.
PGXS := $(shell $(PG_CONFIG) --pgxs 2>/dev/null)
NO_BUILD_GOALS = deps test demo bench
ifneq ($(wildcard $(PGXS)),)
include $(PGXS)
else ifneq ($(filter-out $(NO_BUILD_GOALS),$(or $(MAKECMDGOALS),all)),)
$(error $(if $(PGXS),$(PGXS) is missing,$(PG_CONFIG) is not installed): run `make deps` (or install postgresql-server-dev-15); the client library alone needs less: `make -C client`)
endif
ifneq ($(filter-out $(NO_BUILD_GOALS) clean distclean uninstall installcheck,$(or $(MAKECMDGOALS),all)),)
ifeq ($(shell command -v $(firstword $(CC)) 2>/dev/null),)
$(error the C compiler "$(firstword $(CC))" is not installed: run `make deps`)
endif
endif

# Every object of the server module includes the module's headers: a change of
# a shared struct rebuilds them all (PGXS tracks no header dependencies).
$(OBJS): $(SRC)/extension/basemodel.h $(SRC)/extension/compat.h

# The control file states the extension's version (test/t/version.t checks
# META.json and the installed files).
ifneq ($(shell sed -n "s/^default_version = '\(.*\)'$$/\1/p" $(SRC)/extension/basemodel.control),$(EXTVERSION))
$(error extension/basemodel.control's default_version is not $(EXTVERSION), the VERSION file's MAJOR.MINOR)
endif

# The client library: client/Makefile (built in the source tree), with the
# same PREFIX, DESTDIR, ... (variables given on the command line reach it by
# themselves).  WITH_CLIENT=no builds and installs the extension alone, as a
# package of the extension wants.
WITH_CLIENT ?= yes
ifeq ($(WITH_CLIENT),yes)
all: client
install: install-client
uninstall: uninstall-client
clean: clean-client
endif
client:
	$(MAKE) -C $(SRC)/client
install-client:
	$(MAKE) -C $(SRC)/client install
uninstall-client:
	$(MAKE) -C $(SRC)/client uninstall
clean-client:
	$(MAKE) -C $(SRC)/client clean
.PHONY: client install-client uninstall-client clean-client

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
