# The Buildroot release this tree is written and tested against: the one place that names it. Another release
# may work; a warning says it is untested rather than failing the build.
ORBITAL_BUILDROOT_VERSION = 2026.02.3

ifneq ($(BR2_VERSION),$(ORBITAL_BUILDROOT_VERSION))
$(warning BR2_EXTERNAL ORBITAL targets Buildroot $(ORBITAL_BUILDROOT_VERSION); this is $(BR2_VERSION))
endif

include $(sort $(wildcard $(BR2_EXTERNAL_ORBITAL_PATH)/package/*/*.mk))
