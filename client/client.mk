# libbasemodel: the client library, shared and static, plus its header and
# pkg-config file.  Included from the top-level Makefile.

PREFIX ?= /usr/local
CLIENT_LIBDIR = $(PREFIX)/lib
CLIENT_INCLUDEDIR = $(PREFIX)/include
CLIENT_PKGCONFIGDIR = $(CLIENT_LIBDIR)/pkgconfig

CLIENT_SOVERSION = 0
CLIENT_SRCS = $(sort $(wildcard client/src/*.c))
CLIENT_OBJS = $(CLIENT_SRCS:.c=.o)
CLIENT_CFLAGS = -DBM_VERSION=\"$(EXTVERSION)\" -std=gnu11 -O2 -g -fPIC -fvisibility=hidden \
	-Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
	-Iclient/include -Iclient/src -I$(shell $(PG_CONFIG) --includedir)
CLIENT_LIBS = -L$(shell $(PG_CONFIG) --libdir) -lpq
OBJCOPY ?= objcopy

all: client/libbasemodel.so client/libbasemodel.a client/basemodel.pc

# The adapters in client/adapters are header-only and installed as
# <basemodel/adapters/NAME.h>; the core links nothing but libpq.
client/src/%.o: client/src/%.c client/include/basemodel.h $(wildcard client/src/*.h)
	$(CC) $(CLIENT_CFLAGS) -c -o $@ $<

client/libbasemodel.so: $(CLIENT_OBJS)
	$(CC) -shared -Wl,-soname,libbasemodel.so.$(CLIENT_SOVERSION) -o $@ $^ $(CLIENT_LIBS)

# One relocatable object whose hidden (internal) symbols are made local, so
# that a program linking the archive can have its own now_ms or pool_pick.
client/libbasemodel.a: $(CLIENT_OBJS)
	rm -f $@
	$(LD) -r -o client/libbasemodel.o $^
	$(OBJCOPY) --localize-hidden client/libbasemodel.o
	$(AR) rcs $@ client/libbasemodel.o

client/basemodel.pc: client/basemodel.pc.in Makefile
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(EXTVERSION)|' $< > $@

.PHONY: install-client uninstall-client
install: install-client
install-client: client/libbasemodel.so client/libbasemodel.a client/basemodel.pc
	install -d '$(DESTDIR)$(CLIENT_LIBDIR)' '$(DESTDIR)$(CLIENT_INCLUDEDIR)' '$(DESTDIR)$(CLIENT_PKGCONFIGDIR)'
	install -m 644 client/include/basemodel.h '$(DESTDIR)$(CLIENT_INCLUDEDIR)/'
	install -d '$(DESTDIR)$(CLIENT_INCLUDEDIR)/basemodel/adapters'
	install -m 644 client/adapters/*.h '$(DESTDIR)$(CLIENT_INCLUDEDIR)/basemodel/adapters/'
	install -m 755 client/libbasemodel.so '$(DESTDIR)$(CLIENT_LIBDIR)/libbasemodel.so.$(EXTVERSION)'
	ln -sf libbasemodel.so.$(EXTVERSION) '$(DESTDIR)$(CLIENT_LIBDIR)/libbasemodel.so.$(CLIENT_SOVERSION)'
	ln -sf libbasemodel.so.$(CLIENT_SOVERSION) '$(DESTDIR)$(CLIENT_LIBDIR)/libbasemodel.so'
	install -m 644 client/libbasemodel.a '$(DESTDIR)$(CLIENT_LIBDIR)/'
	install -m 644 client/basemodel.pc '$(DESTDIR)$(CLIENT_PKGCONFIGDIR)/'
	if [ -z '$(DESTDIR)' ] && command -v ldconfig >/dev/null; then ldconfig; fi

uninstall: uninstall-client
uninstall-client:
	rm -rf '$(DESTDIR)$(CLIENT_INCLUDEDIR)/basemodel'
	rm -f '$(DESTDIR)$(CLIENT_INCLUDEDIR)/basemodel.h' \
		'$(DESTDIR)$(CLIENT_LIBDIR)'/libbasemodel.so* \
		'$(DESTDIR)$(CLIENT_LIBDIR)/libbasemodel.a' \
		'$(DESTDIR)$(CLIENT_PKGCONFIGDIR)/basemodel.pc'

EXTRA_CLEAN += client/src/*.o client/libbasemodel.o client/libbasemodel.so client/libbasemodel.a client/basemodel.pc
