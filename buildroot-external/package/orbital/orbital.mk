################################################################################
#
# orbital
#
################################################################################

# The repository this tree belongs to is the site: native/ (addons, supervisor), node_modules/ (the
# Node-API headers only) and dist/sea/ (the single executable, made by scripts/build-sea.mjs beforehand).
ORBITAL_VERSION = $(shell sed -n 's/^  "version": "\(.*\)",$$/\1/p' $(BR2_EXTERNAL_ORBITAL_PATH)/../package.json)
ORBITAL_SITE = $(BR2_EXTERNAL_ORBITAL_PATH)/..
ORBITAL_SITE_METHOD = local
ORBITAL_OVERRIDE_SRCDIR_RSYNC_EXCLUSIONS = \
	--include=/node_modules/node-api-headers/*** --include=/node_modules/node-addon-api/*** \
	--exclude=/node_modules/* --exclude=/build --exclude=/native/build --exclude=/test --exclude=/bench
ORBITAL_LICENSE = Proprietary (Orbital), MIT (Node.js, in the executable)
# host-clang compiles the XDP program (native/xdp/bpf) to BPF bytecode; libbpf is what the xdp addon links.
ORBITAL_DEPENDENCIES = libmnl libbpf host-clang
ORBITAL_INSTALL_STAGING = NO

ifeq ($(BR2_x86_64),y)
ORBITAL_ARCH = x86_64
else ifeq ($(BR2_aarch64),y)
ORBITAL_ARCH = aarch64
endif
ORBITAL_SEA_DIR = $(or $(call qstrip,$(BR2_PACKAGE_ORBITAL_SEA_DIR)),$(@D)/dist/sea/$(ORBITAL_ARCH))
ORBITAL_NATIVE_OUT = $(@D)/native/build/buildroot

# Stripping usr/bin/orbital cuts off the program appended to it (the executable then runs plain Node.js).
ifeq ($(BR2_STRIP_strip),y)
ifeq ($(filter orbital,$(call qstrip,$(BR2_STRIP_EXCLUDE_FILES))),)
$(error orbital: BR2_STRIP_EXCLUDE_FILES must contain "orbital" (the strip step would break the executable))
endif
endif

# The addons and the supervisor for the target (the copies in dist/sea are the build machine's or Debian's).
define ORBITAL_BUILD_CMDS
	$(TARGET_MAKE_ENV) $(MAKE) -C $(@D)/native OUT=$(ORBITAL_NATIVE_OUT) \
		CC="$(TARGET_CC)" CXX="$(TARGET_CXX)" CFLAGS="$(TARGET_CFLAGS)" \
		CXXFLAGS="$(TARGET_CXXFLAGS)" LDFLAGS="$(TARGET_LDFLAGS)" \
		CLANG="$(HOST_DIR)/bin/clang" BPF_INCLUDE="$(STAGING_DIR)/usr/include"
endef

# The same places board/common/post-build.sh uses for the offline image (it skips them here:
# ORBITAL_SEA_DIR is unset in a Buildroot build).
define ORBITAL_INSTALL_TARGET_CMDS
	test -x $(ORBITAL_SEA_DIR)/bin/orbital || { echo "orbital: no $(ORBITAL_SEA_DIR)/bin/orbital:" \
		"run node scripts/build-sea.mjs --arch $(ORBITAL_ARCH)"; exit 1; }
	$(INSTALL) -D -m 0755 $(ORBITAL_SEA_DIR)/bin/orbital $(TARGET_DIR)/usr/bin/orbital
	ln -sfn orbital $(TARGET_DIR)/usr/bin/orbitald
	ln -sfn orbital $(TARGET_DIR)/usr/bin/orbctl
	$(INSTALL) -d -m 0755 $(TARGET_DIR)/usr/lib/orbital $(TARGET_DIR)/usr/share
	$(INSTALL) -m 0755 $(ORBITAL_NATIVE_OUT)/*.node $(TARGET_DIR)/usr/lib/orbital/
	$(INSTALL) -m 0644 $(ORBITAL_NATIVE_OUT)/*.bpf.o $(TARGET_DIR)/usr/lib/orbital/
	cp -a $(ORBITAL_SEA_DIR)/share/. $(TARGET_DIR)/usr/share/
	$(INSTALL) -D -m 0755 $(ORBITAL_NATIVE_OUT)/orbital-supervise $(TARGET_DIR)/usr/sbin/orbital-supervise
endef

# overlay/etc/group and usr/lib/orbital/factory/passwd: group orbital (900) may use the API socket; admin
# (1000) logs in to the orbctl shell. No password here ("-"): the initial one is in the overlay's factory
# shadow, as in the offline image ("=orbital" would also need host-mkpasswd, which Buildroot adds to the file
# systems' dependencies only for the users of packages it read before fs/common.mk: not BR2_EXTERNAL ones).
define ORBITAL_USERS
	- -1 orbital 900 - - - - -
	admin 1000 admin 1000 - /home/admin /usr/bin/orbctl-shell orbital Orbital administrator
endef

# mkusers and makedevs (above) ran on regular files and folders, which buildroot-external/board/post-build.sh
# made of the links to /data (followed on the build machine, they would write its own /data). Back to the
# links: passwd becomes the factory copy that /etc/init.d/rcS installs on /data; mkusers' shadow (admin
# without a password) is dropped, the factory shadow stays.
define ORBITAL_ACCOUNTS_TO_DATA
	mv $(TARGET_DIR)/etc/passwd $(TARGET_DIR)/usr/lib/orbital/factory/passwd
	rm $(TARGET_DIR)/etc/shadow
	ln -s /data/etc/passwd $(TARGET_DIR)/etc/passwd
	ln -s /data/etc/shadow $(TARGET_DIR)/etc/shadow
	rm -rf $(TARGET_DIR)/home $(TARGET_DIR)/root
	ln -s /data/home $(TARGET_DIR)/home
	ln -s /data/root $(TARGET_DIR)/root
endef
ORBITAL_ROOTFS_PRE_CMD_HOOKS += ORBITAL_ACCOUNTS_TO_DATA

$(eval $(generic-package))
