/* SPDX-License-Identifier: ISC */
/*
 * fuzz_config.c: libFuzzer target for the configuration loader
 * (config_load_string: inih, every key's parser, the whole-config
 * validation), then config_print of what was loaded.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "nbmqd.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);
int	LLVMFuzzerInitialize(int *, char ***);

static FILE	*devnull;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	log_init(LOG_CRIT, 1);
	if ((devnull = fopen("/dev/null", "w")) == NULL)
		abort();
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config	 cf;
	char		*text;
	int		 errors;

	if (size > 65536)
		return 0;
	if ((text = malloc(size + 1)) == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	errors = config_load_string(&cf, "fuzz.conf", text, devnull);
	if (errors < 0)
		abort();
	if (errors == 0)
		config_print(&cf, devnull);
	config_free(&cf);
	free(text);
	return 0;
}
