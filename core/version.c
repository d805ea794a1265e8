// SPDX-License-Identifier: LGPL-2.1-or-later
#include "config.h"
#include <slabcache.h>

const char *sc_version_string(void)
{
	return SC_VERSION_STRING;
}
