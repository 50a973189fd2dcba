/*
 * Prints what glibc's getopt_long returns for argv, one line per option, so that rtlat's emulation can
 * be compared with the real thing. The table comes from argv[1] ("name:kind,..." where kind is n, r or o)
 * and the optstring from argv[2]; the command line under test follows (argv[3] is its program name).
 *
 * Output per option: "<id>\t<optarg or (null)>\t<argv[optind] or (end)>", where id is the short
 * letter or the long option's name; on an error: "?" (glibc itself writes the message on stderr).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char *argv[])
{
	if (argc < 4)
		return 2;
	char *table = strdup(argv[1]);
	struct option options[128];
	char *names[128];
	int count = 0;
	for (char *entry = strtok(table, ","); entry && count < 127; entry = strtok(NULL, ",")) {
		char *colon = strrchr(entry, ':');
		*colon = '\0';
		names[count] = entry;
		options[count].name = entry;
		options[count].has_arg = colon[1] == 'r' ? required_argument : colon[1] == 'o' ? optional_argument : no_argument;
		options[count].flag = NULL;
		options[count].val = 1000 + count;
		count++;
	}
	memset(&options[count], 0, sizeof(options[count]));

	int cargc = argc - 3;
	char **cargv = argv + 3;
	for (;;) {
		int index = 0;
		int c = getopt_long(cargc, cargv, argv[2], options, &index);
		if (c == -1)
			break;
		if (c == '?') {
			printf("?\n");
			break;
		}
		const char *next = optind < cargc ? cargv[optind] : "(end)";
		if (c >= 1000)
			printf("%s\t%s\t%s\n", names[c - 1000], optarg ? optarg : "(null)", next);
		else
			printf("%c\t%s\t%s\n", c, optarg ? optarg : "(null)", next);
	}
	return 0;
}
