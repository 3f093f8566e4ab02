#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "proc.h"

int proc_parse_stat(const char *buf, struct proc_stat *st)
{
	const char *open = strchr(buf, '('), *close = strrchr(buf, ')');
	unsigned long long f[52];
	size_t len;
	int n;

	memset(st, 0, sizeof(*st));
	if (!open || !close || close < open)
		return -1;
	st->pid = atoi(buf);
	/* comm may hold spaces and parentheses: it ends at the last ')'. */
	len = close - open - 1;
	if (len >= sizeof(st->comm))
		len = sizeof(st->comm) - 1;
	memcpy(st->comm, open + 1, len);
	st->comm[len] = 0;
	if (sscanf(close + 1, " %c", &st->state) != 1)
		return -1;
	/* Fields 4.. of proc(5), numbered from 1: f[i] is field i + 4. */
	{
		const char *p = close + 3;
		char *end;

		for (n = 0; n < 49 && *p; n++) {
			f[n] = strtoull(p, &end, 10);
			if (end == p) {
				if (*p == '-')	/* negative: priority, nice */
					f[n] = strtoll(p, &end, 10);
				if (end == p)
					break;
			}
			p = end;
			while (*p == ' ')
				p++;
		}
	}
	if (n < 49)
		return -1;
	st->ppid = f[0];
	st->flags = f[5];
	st->pgid = f[1];
	st->sid = f[2];
	st->num_threads = f[16];
	st->start_code = f[22];
	st->end_code = f[23];
	st->start_stack = f[24];
	st->start_data = f[41];
	st->end_data = f[42];
	st->start_brk = f[43];
	st->arg_start = f[44];
	st->arg_end = f[45];
	st->env_start = f[46];
	st->env_end = f[47];
	st->exit_code = f[48];
	return 0;
}

const char *proc_field(const char *buf, const char *name)
{
	size_t len = strlen(name);
	const char *p = buf;

	while (p && *p) {
		if (!strncmp(p, name, len) && p[len] == ':')
			return p + len + 1;
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return NULL;
}

int proc_parse_status(const char *buf, struct proc_status *st)
{
	const char *p;

	memset(st, 0, sizeof(*st));
	st->umask = -1;
	p = proc_field(buf, "State");
	if (!p || sscanf(p, " %c", &st->state) != 1)
		return -1;
	p = proc_field(buf, "TracerPid");
	if (!p || sscanf(p, "%d", &st->tracer) != 1)
		return -1;
	p = proc_field(buf, "Uid");
	if (!p || sscanf(p, "%u %u %u %u", &st->uid[0], &st->uid[1],
			 &st->uid[2], &st->uid[3]) != 4)
		return -1;
	p = proc_field(buf, "Gid");
	if (!p || sscanf(p, "%u %u %u %u", &st->gid[0], &st->gid[1],
			 &st->gid[2], &st->gid[3]) != 4)
		return -1;
	p = proc_field(buf, "Umask");
	if (p)
		st->umask = strtol(p, NULL, 8);
	p = proc_field(buf, "Groups");
	if (!p)
		return -1;
	while (*p && *p != '\n' && st->nr_groups < 64) {
		char *end;
		unsigned long g = strtoul(p, &end, 10);

		if (end == p) {
			p++;
			continue;
		}
		st->groups[st->nr_groups++] = g;
		p = end;
	}
	return 0;
}

int proc_parse_maps_line(const char *line, struct proc_vma *v)
{
	char perms[5];
	int pos = 0;
	const char *path;
	size_t len;

	memset(v, 0, sizeof(*v));
	if (sscanf(line, "%" SCNx64 "-%" SCNx64 " %4s %" SCNx64 " %x:%x %" SCNu64 "%n",
		   &v->start, &v->end, perms, &v->pgoff, &v->dev_major,
		   &v->dev_minor, &v->ino, &pos) != 7)
		return -1;
	if (strlen(perms) != 4 || v->end <= v->start)
		return -1;
	if (perms[0] == 'r')
		v->prot |= PROT_READ;
	if (perms[1] == 'w')
		v->prot |= PROT_WRITE;
	if (perms[2] == 'x')
		v->prot |= PROT_EXEC;
	v->shared = perms[3] == 's';
	path = line + pos;
	while (*path == ' ')
		path++;
	len = strcspn(path, "\n");
	if (len >= sizeof(v->path))
		return -1;
	memcpy(v->path, path, len);
	v->path[len] = 0;
	return 0;
}

int proc_parse_fdinfo(const char *buf, struct proc_fdinfo *fi)
{
	const char *p;

	memset(fi, 0, sizeof(*fi));
	p = proc_field(buf, "pos");
	if (!p)
		return -1;
	fi->pos = strtoull(p, NULL, 10);
	p = proc_field(buf, "flags");
	if (!p)
		return -1;
	fi->flags = strtoul(p, NULL, 8);
	p = proc_field(buf, "mnt_id");
	if (p)
		fi->mnt_id = atoi(p);
	return 0;
}
