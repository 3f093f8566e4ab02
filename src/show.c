/* crest show: any image, or a whole directory of them, as JSON. */
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "context.h"
#include "fdinfo.pb-c.h"
#include "image.h"
#include "log.h"
#include "opts.h"
#include "show.h"
#include "util.h"

static void json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char c = *s;

		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

static void show_msg(const ProtobufCMessage *m, int indent);

/* Unix socket names read as names: "/path", "@abstract" (NULs as \u0000). */
static bool unix_name_field(const ProtobufCFieldDescriptor *f)
{
	static const char *const names[] = { "name", "ext_peer", "queue_from" };

	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		if (f == protobuf_c_message_descriptor_get_field_by_name(
				&unix_sk_entry__descriptor, names[i]))
			return true;
	return false;
}

static void show_unix_name(const ProtobufCBinaryData *b)
{
	putchar('"');
	for (size_t i = 0; i < b->len; i++) {
		unsigned char c = b->data[i];

		if (!i && !c)
			putchar('@');
		else if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

static void show_value(const ProtobufCFieldDescriptor *f, const void *p, int indent)
{
	switch (f->type) {
	case PROTOBUF_C_TYPE_UINT32: case PROTOBUF_C_TYPE_FIXED32:
		printf("%" PRIu32, *(const uint32_t *)p);
		break;
	case PROTOBUF_C_TYPE_INT32: case PROTOBUF_C_TYPE_SINT32: case PROTOBUF_C_TYPE_SFIXED32:
		printf("%" PRId32, *(const int32_t *)p);
		break;
	case PROTOBUF_C_TYPE_UINT64: case PROTOBUF_C_TYPE_FIXED64:
		/* Addresses read better in hex; JSON has no hex, so a string. */
		if (*(const uint64_t *)p > 0xffffffffULL)
			printf("\"0x%" PRIx64 "\"", *(const uint64_t *)p);
		else
			printf("%" PRIu64, *(const uint64_t *)p);
		break;
	case PROTOBUF_C_TYPE_INT64: case PROTOBUF_C_TYPE_SINT64: case PROTOBUF_C_TYPE_SFIXED64:
		printf("%" PRId64, *(const int64_t *)p);
		break;
	case PROTOBUF_C_TYPE_BOOL:
		printf(*(const protobuf_c_boolean *)p ? "true" : "false");
		break;
	case PROTOBUF_C_TYPE_ENUM: {
		const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value(
			f->descriptor, *(const int *)p);

		if (ev)
			json_str(ev->name);
		else
			printf("%d", *(const int *)p);
		break;
	}
	case PROTOBUF_C_TYPE_STRING:
		json_str(*(char *const *)p ? *(char *const *)p : "");
		break;
	case PROTOBUF_C_TYPE_BYTES: {
		const ProtobufCBinaryData *b = p;

		if (unix_name_field(f)) {
			show_unix_name(b);
			break;
		}
		printf("\"");
		for (size_t i = 0; i < b->len && i < 4096; i++)
			printf("%02x", b->data[i]);
		printf("%s\"", b->len > 4096 ? "..." : "");
		break;
	}
	case PROTOBUF_C_TYPE_MESSAGE:
		show_msg(*(ProtobufCMessage *const *)p, indent);
		break;
	default:
		printf("null");
	}
}

static size_t type_size(const ProtobufCFieldDescriptor *f)
{
	switch (f->type) {
	case PROTOBUF_C_TYPE_INT64: case PROTOBUF_C_TYPE_UINT64: case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_FIXED64: case PROTOBUF_C_TYPE_SFIXED64: case PROTOBUF_C_TYPE_DOUBLE:
		return 8;
	case PROTOBUF_C_TYPE_STRING: case PROTOBUF_C_TYPE_MESSAGE:
		return sizeof(void *);
	case PROTOBUF_C_TYPE_BYTES:
		return sizeof(ProtobufCBinaryData);
	case PROTOBUF_C_TYPE_BOOL:
		return sizeof(protobuf_c_boolean);
	default:
		return 4;
	}
}

static void show_msg(const ProtobufCMessage *m, int indent)
{
	const ProtobufCMessageDescriptor *d = m->descriptor;
	int first = 1;

	printf("{");
	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		const char *base = (const char *)m;

		if (f->label == PROTOBUF_C_LABEL_OPTIONAL && f->quantifier_offset &&
		    f->type != PROTOBUF_C_TYPE_STRING && f->type != PROTOBUF_C_TYPE_MESSAGE &&
		    !*(const protobuf_c_boolean *)(base + f->quantifier_offset))
			continue;
		if ((f->type == PROTOBUF_C_TYPE_MESSAGE || f->type == PROTOBUF_C_TYPE_STRING) &&
		    f->label != PROTOBUF_C_LABEL_REPEATED && !*(void *const *)(base + f->offset))
			continue;
		printf("%s\n%*s\"%s\": ", first ? "" : ",", indent + 2, "", f->name);
		first = 0;
		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			size_t n = *(const size_t *)(base + f->quantifier_offset);
			const char *arr = *(char *const *)(base + f->offset);

			printf("[");
			for (size_t j = 0; j < n; j++) {
				if (j)
					printf(", ");
				show_value(f, arr + j * type_size(f), indent + 2);
			}
			printf("]");
		} else {
			show_value(f, base + f->offset, indent + 2);
		}
	}
	printf("\n%*s}", indent, "");
}

/* "core-%d.img" -> "core": the kind, not the file name's pattern. */
static const char *kind_name(const char *pattern, char *buf, size_t len)
{
	const char *pid = strstr(pattern, "-%d");
	size_t n = pid ? (size_t)(pid - pattern) : strcspn(pattern, ".");

	snprintf(buf, len, "%.*s", (int)n, pattern);
	return buf;
}

/* One object; after *shown others, a separator first (they are an array). */
static int show_file(int dirfd, const char *dir, const char *name, int *shown)
{
	char kind[32], id[2 * IMG_ID_SIZE + 1];
	struct image *img = img_open_path(dirfd, dir, name, IMG_NR_KINDS);
	void *msg;
	int ret, first = 1;

	if (!img)
		return -1;
	printf("%s{\n  \"file\": ", (*shown)++ ? ",\n" : "");
	json_str(img->path);
	printf(",\n  \"kind\": ");
	json_str(kind_name(img_descs[img->kind].name, kind, sizeof(kind)));
	img_id_str(img->id, id);
	printf(",\n  \"id\": \"%s\"", id);
	if (!img_descs[img->kind].msg) {
		printf(",\n  \"data_bytes\": %zu\n}\n", img->size - IMG_PAGES_OFF);
		img_close(img);
		return 0;
	}
	printf(",\n  \"records\": [");
	while ((ret = img_read_msg(img, &msg)) > 0) {
		printf("%s\n    ", first ? "" : ",");
		show_msg(msg, 4);
		protobuf_c_message_free_unpacked(msg, NULL);
		first = 0;
	}
	printf("\n  ]\n}\n");
	img_close(img);
	return ret < 0 ? -1 : 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int cr_show(const struct options *opts)
{
	const char *path = opts->show_path;
	struct stat st;
	char **names = NULL;
	int nr = 0, ret = 0, dfd, shown = 0;
	struct dirent *de;
	DIR *d;

	if (stat(path, &st)) {
		pr_perror("can't open '%s'", path);
		return EXIT_IMAGE;
	}
	if (context_is_file(path)) {
		struct options o;
		char *dir;
		int ret;

		opts_defaults(&o);
		o.file = path;
		dir = context_unpack(&o);
		if (!dir)
			return EXIT_IMAGE;
		o.show_path = dir;
		ret = cr_show(&o);
		context_remove_dir(dir);
		free(dir);
		return ret;
	}
	if (!S_ISDIR(st.st_mode)) {
		char *copy = xstrdup(path), *slash = strrchr(copy, '/');
		const char *dir = ".", *name = copy;

		if (slash) {
			*slash = 0;
			dir = slash == copy ? "/" : copy;
			name = slash + 1;
		}
		dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		ret = dfd < 0 ? -1 : show_file(dfd, dir, name, &shown);
		if (dfd >= 0)
			close(dfd);
		free(copy);
		return ret ? EXIT_IMAGE : EXIT_OK;
	}
	d = opendir(path);
	if (!d) {
		pr_perror("can't open '%s'", path);
		return EXIT_IMAGE;
	}
	while ((de = readdir(d))) {
		size_t len = strlen(de->d_name);

		if (de->d_name[0] == '.' || len < 5 || strcmp(de->d_name + len - 4, ".img"))
			continue;
		names = xrealloc(names, (nr + 1) * sizeof(char *));
		names[nr++] = xstrdup(de->d_name);
	}
	if (!nr) {
		closedir(d);
		pr_err("'%s' holds no images (no *.img file)", path);
		return EXIT_IMAGE;
	}
	qsort(names, nr, sizeof(char *), cmp_str);
	/* A directory is one JSON array of its images, in name order. */
	printf("[\n");
	for (int i = 0; i < nr; i++) {
		if (show_file(dirfd(d), path, names[i], &shown))
			ret = -1;
		free(names[i]);
	}
	printf("]\n");
	free(names);
	closedir(d);
	return ret ? EXIT_IMAGE : EXIT_OK;
}
