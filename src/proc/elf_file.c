/* elf_file.c: reads one ELF object with libelf: function symbols, address maps, notes, links. */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "proc/elf_file.h"

#ifndef NT_GNU_BUILD_ID
#define NT_GNU_BUILD_ID 3
#endif
#define VERSYM_HIDDEN 0x8000

struct elf_file {
	Elf *elf;
	const uint8_t *image; /* the whole file (mmapped by libelf) */
	size_t image_size;
	GElf_Ehdr ehdr;
	size_t shnum;
	GElf_Phdr *loads; /* PT_LOAD headers */
	size_t nr_loads;
	Elf_Scn *symtab, *dynsym;
	Elf_Scn *relas[4];	/* SHT_RELA sections that relocate against .dynsym (.rela.dyn, .rela.plt) */
	size_t nr_relas;
	Elf_Data *versym; /* parallel to .dynsym, or NULL */
	const uint8_t *build_id;
	size_t build_id_len;
	const char *debuglink;
	uint32_t debuglink_crc;
};

static void find_build_id(struct elf_file *ef, Elf_Data *data)
{
	GElf_Nhdr nhdr;
	size_t off = 0, next, name_off, desc_off;

	if (!data || !data->d_buf)
		return;
	while ((next = gelf_getnote(data, off, &nhdr, &name_off, &desc_off)) > 0) {
		if (nhdr.n_type == NT_GNU_BUILD_ID && nhdr.n_namesz == 4 && nhdr.n_descsz > 0 &&
		    !memcmp((const char *)data->d_buf + name_off, "GNU", 4)) {
			ef->build_id = (const uint8_t *)data->d_buf + desc_off;
			ef->build_id_len = nhdr.n_descsz;
			return;
		}
		off = next;
	}
}

static void read_debuglink(struct elf_file *ef, Elf_Scn *scn)
{
	Elf_Data *data = elf_getdata(scn, NULL);
	const uint8_t *p;
	size_t len, crc_off;

	if (!data || !data->d_buf || data->d_size == 0)
		return;
	p = data->d_buf;
	len = strnlen((const char *)p, data->d_size);
	if (len == 0 || len == data->d_size)
		return;
	ef->debuglink = (const char *)p;
	crc_off = (len + 1 + 3) & ~(size_t)3;
	if (crc_off + 4 > data->d_size)
		return;
	p += crc_off;
	/* The CRC is stored in the object's byte order. */
	if (ef->ehdr.e_ident[EI_DATA] == ELFDATA2MSB)
		ef->debuglink_crc =
		    (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
	else
		ef->debuglink_crc =
		    (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}

static int scan_sections(struct elf_file *ef)
{
	Elf_Scn *scn = NULL;
	size_t shstrndx;

	if (elf_getshdrstrndx(ef->elf, &shstrndx))
		shstrndx = 0;
	while ((scn = elf_nextscn(ef->elf, scn))) {
		GElf_Shdr shdr;
		const char *name;

		if (!gelf_getshdr(scn, &shdr))
			return -ENOEXEC;
		if (shdr.sh_type == SHT_NOBITS)
			continue;
		switch (shdr.sh_type) {
		case SHT_SYMTAB:
			ef->symtab = scn;
			break;
		case SHT_DYNSYM:
			ef->dynsym = scn;
			break;
		case SHT_GNU_versym:
			ef->versym = elf_getdata(scn, NULL);
			break;
		case SHT_RELA:
			if (ef->nr_relas < sizeof(ef->relas) / sizeof(ef->relas[0]))
				ef->relas[ef->nr_relas++] = scn;
			break;
		case SHT_NOTE:
			if (!ef->build_id)
				find_build_id(ef, elf_getdata(scn, NULL));
			break;
		default:
			name = shstrndx ? elf_strptr(ef->elf, shstrndx, shdr.sh_name) : NULL;
			if (name && !strcmp(name, ".gnu_debuglink"))
				read_debuglink(ef, scn);
			break;
		}
	}
	return 0;
}

static int scan_segments(struct elf_file *ef)
{
	size_t phnum, i;

	if (elf_getphdrnum(ef->elf, &phnum))
		return -ENOEXEC;
	ef->loads = calloc(phnum ? phnum : 1, sizeof(*ef->loads));
	if (!ef->loads)
		return -ENOMEM;
	for (i = 0; i < phnum; i++) {
		GElf_Phdr ph;

		if (!gelf_getphdr(ef->elf, (int)i, &ph))
			return -ENOEXEC;
		if (ph.p_type == PT_LOAD)
			ef->loads[ef->nr_loads++] = ph;
		/* Files without section headers still carry the build-id in a PT_NOTE. */
		else if (ph.p_type == PT_NOTE && !ef->build_id && ph.p_filesz)
			find_build_id(ef, elf_getdata_rawchunk(ef->elf, (int64_t)ph.p_offset,
							       ph.p_filesz, ELF_T_NHDR));
	}
	return 0;
}

struct elf_file *elf_file__open(const char *path)
{
	struct elf_file *ef;
	struct stat st;
	int fd, err;

	elf_version(EV_CURRENT);
	/*
	 * Regular files only, checked before the open: a debuglink name comes from the object and
	 * can lead anywhere. Opening a FIFO waits for a writer, and opening some devices acts (a
	 * watchdog arms itself). O_NONBLOCK covers a file swapped for a FIFO in between.
	 */
	if (stat(path, &st))
		return NULL;
	if (!S_ISREG(st.st_mode)) {
		errno = ENOEXEC;
		return NULL;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0)
		return NULL;
	if (fstat(fd, &st)) {
		err = -errno;
		goto err_fd;
	}
	if (!S_ISREG(st.st_mode)) {
		err = -ENOEXEC;
		goto err_fd;
	}
	ef = calloc(1, sizeof(*ef));
	if (!ef) {
		err = -ENOMEM;
		goto err_fd;
	}
	ef->elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (!ef->elf || elf_kind(ef->elf) != ELF_K_ELF || !gelf_getehdr(ef->elf, &ef->ehdr)) {
		err = -ENOEXEC;
		goto err_ef;
	}
	/*
	 * With the whole image mapped (or read, when mmap fails) libelf needs the descriptor no
	 * more; closing it keeps one fd per cached object from adding up.
	 */
	ef->image = (const uint8_t *)elf_rawfile(ef->elf, &ef->image_size);
	if (!ef->image) {
		err = -ENOEXEC;
		goto err_ef;
	}
	elf_cntl(ef->elf, ELF_C_FDDONE);
	close(fd);
	fd = -1;

	if (elf_getshdrnum(ef->elf, &ef->shnum)) {
		err = -ENOEXEC;
		goto err_ef;
	}
	err = scan_sections(ef);
	if (!err)
		err = scan_segments(ef);
	if (err)
		goto err_ef;
	return ef;

err_ef:
	elf_file__free(ef);
err_fd:
	if (fd >= 0)
		close(fd);
	errno = -err;
	return NULL;
}

int elf_file__type(const struct elf_file *ef)
{
	return ef->ehdr.e_type;
}

static bool is_compat_name(const char *name)
{
	const char *at = strchr(name, '@');

	return at && at[1] != '@';
}

/* Calls fn for every defined function of one symbol table; returns fn's first non-zero value. */
static int walk_table(struct elf_file *ef, Elf_Scn *scn, bool dynamic,
		      int (*fn)(const struct elf_sym *sym, void *ctx), void *ctx)
{
	GElf_Shdr shdr;
	Elf_Data *data;
	size_t n, i, entsize;
	int ret;

	if (!scn || !gelf_getshdr(scn, &shdr))
		return 0;
	data = elf_getdata(scn, NULL);
	entsize = gelf_fsize(ef->elf, ELF_T_SYM, 1, EV_CURRENT);
	if (!data || !data->d_buf || !entsize)
		return 0;
	n = data->d_size / entsize;
	for (i = 1; i < n; i++) {
		struct elf_sym es;
		GElf_Sym sym;
		GElf_Versym ver;
		const char *name;
		int type;

		if (!gelf_getsym(data, (int)i, &sym))
			break;
		type = GELF_ST_TYPE(sym.st_info);
		if ((type != STT_FUNC && type != STT_GNU_IFUNC) || sym.st_shndx == SHN_UNDEF ||
		    !sym.st_value)
			continue;
		name = elf_strptr(ef->elf, shdr.sh_link, sym.st_name);
		if (!name || !*name)
			continue;
		es.name = name;
		es.vaddr = sym.st_value;
		es.size = sym.st_size;
		es.global = GELF_ST_BIND(sym.st_info) == STB_GLOBAL ||
			    GELF_ST_BIND(sym.st_info) == STB_WEAK;
		es.dynamic = dynamic;
		if (dynamic)
			es.compat_version = ef->versym &&
					    gelf_getversym(ef->versym, (int)i, &ver) &&
					    (ver & VERSYM_HIDDEN);
		else
			es.compat_version = is_compat_name(name);
		es.shndx = sym.st_shndx < SHN_LORESERVE ? sym.st_shndx : 0;
		ret = fn(&es, ctx);
		if (ret)
			return ret;
	}
	return 0;
}

int elf_file__for_each_func(struct elf_file *ef, int (*fn)(const struct elf_sym *sym, void *ctx),
			    void *ctx)
{
	int ret = walk_table(ef, ef->symtab, false, fn, ctx);

	return ret ? ret : walk_table(ef, ef->dynsym, true, fn, ctx);
}

struct find_ctx {
	const char *name;
	size_t len;
	struct elf_sym *out;
	bool found_compat;
};

static int find_cb(const struct elf_sym *sym, void *ctx)
{
	struct find_ctx *fc = ctx;

	if (!sym->global || strncmp(sym->name, fc->name, fc->len) ||
	    (sym->name[fc->len] != '\0' && sym->name[fc->len] != '@'))
		return 0;
	/* A compat version ("memcpy@GLIBC_2.2.5") only counts when no default one exists. */
	if (sym->compat_version) {
		if (!fc->found_compat) {
			*fc->out = *sym;
			fc->found_compat = true;
		}
		return 0;
	}
	*fc->out = *sym;
	return 1;
}

int elf_file__find_func(struct elf_file *ef, const char *name, bool exported_only,
			struct elf_sym *out)
{
	struct find_ctx fc = {.name = name, .len = strlen(name), .out = out};

	if (!exported_only && walk_table(ef, ef->symtab, false, find_cb, &fc))
		return 0;
	if (walk_table(ef, ef->dynsym, true, find_cb, &fc))
		return 0;
	return fc.found_compat ? 0 : -ENOENT;
}

int elf_file__vaddr_to_offset(const struct elf_file *ef, uint64_t vaddr, uint64_t *offset)
{
	size_t i;

	for (i = 0; i < ef->nr_loads; i++) {
		const GElf_Phdr *ph = &ef->loads[i];

		if (vaddr >= ph->p_vaddr && vaddr - ph->p_vaddr < ph->p_filesz) {
			*offset = vaddr - ph->p_vaddr + ph->p_offset;
			return 0;
		}
	}
	return -ENOENT;
}

int elf_file__offset_to_vaddr(const struct elf_file *ef, uint64_t offset, uint64_t *vaddr)
{
	size_t i;

	for (i = 0; i < ef->nr_loads; i++) {
		const GElf_Phdr *ph = &ef->loads[i];

		if (offset >= ph->p_offset && offset - ph->p_offset < ph->p_filesz) {
			*vaddr = offset - ph->p_offset + ph->p_vaddr;
			return 0;
		}
	}
	return -ENOENT;
}

static const uint8_t *image_at(const struct elf_file *ef, uint64_t offset, size_t size)
{
	if (offset > ef->image_size || size > ef->image_size - offset)
		return NULL;
	return ef->image + offset;
}

const uint8_t *elf_file__code(const struct elf_file *ef, uint64_t vaddr, size_t size)
{
	Elf_Scn *scn = NULL;
	size_t i;

	if (vaddr + size < vaddr)
		return NULL;
	/*
	 * Sections first: a separate debug file keeps the program headers of the original but not
	 * its contents, and only the section type (SHT_NOBITS) tells.
	 */
	if (ef->shnum) {
		while ((scn = elf_nextscn(ef->elf, scn))) {
			GElf_Shdr sh;

			if (!gelf_getshdr(scn, &sh) || !(sh.sh_flags & SHF_ALLOC) || !sh.sh_size)
				continue;
			if (vaddr < sh.sh_addr || vaddr - sh.sh_addr >= sh.sh_size)
				continue;
			if (sh.sh_type == SHT_NOBITS || size > sh.sh_size - (vaddr - sh.sh_addr))
				return NULL;
			return image_at(ef, sh.sh_offset + (vaddr - sh.sh_addr), size);
		}
		return NULL;
	}
	for (i = 0; i < ef->nr_loads; i++) {
		const GElf_Phdr *ph = &ef->loads[i];

		if (vaddr >= ph->p_vaddr && vaddr - ph->p_vaddr < ph->p_filesz) {
			if (size > ph->p_filesz - (vaddr - ph->p_vaddr))
				return NULL;
			return image_at(ef, ph->p_offset + (vaddr - ph->p_vaddr), size);
		}
	}
	return NULL;
}

const char *elf_file__slot_symbol(const struct elf_file *ef, uint64_t slot)
{
	Elf_Data *syms = ef->dynsym ? elf_getdata(ef->dynsym, NULL) : NULL;
	GElf_Shdr symhdr;

	if (!syms || !gelf_getshdr(ef->dynsym, &symhdr))
		return NULL;
	for (size_t i = 0; i < ef->nr_relas; i++) {
		Elf_Data *data = elf_getdata(ef->relas[i], NULL);
		GElf_Shdr shdr;

		if (!data || !gelf_getshdr(ef->relas[i], &shdr) || !shdr.sh_entsize ||
		    elf_ndxscn(ef->dynsym) != shdr.sh_link)
			continue;
		for (size_t k = 0; k < shdr.sh_size / shdr.sh_entsize; k++) {
			GElf_Rela rela;
			GElf_Sym sym;
			unsigned int type;

			if (!gelf_getrela(data, (int)k, &rela) || rela.r_offset != slot)
				continue;
			type = GELF_R_TYPE(rela.r_info);
			if ((type != R_X86_64_JUMP_SLOT && type != R_X86_64_GLOB_DAT) ||
			    !gelf_getsym(syms, (int)GELF_R_SYM(rela.r_info), &sym))
				return NULL;
			return elf_strptr(ef->elf, symhdr.sh_link, sym.st_name);
		}
	}
	return NULL;
}

size_t elf_file__build_id(const struct elf_file *ef, const uint8_t **id)
{
	*id = ef->build_id;
	return ef->build_id_len;
}

const char *elf_file__debuglink(const struct elf_file *ef)
{
	return ef->debuglink;
}

uint32_t elf_file__debuglink_crc(const struct elf_file *ef)
{
	return ef->debuglink_crc;
}

bool elf_file__has_symtab(const struct elf_file *ef)
{
	return ef->symtab != NULL;
}

int elf_file__section_range(const struct elf_file *ef, size_t shndx, uint64_t *start, uint64_t *end)
{
	Elf_Scn *scn;
	GElf_Shdr sh;

	if (shndx == 0 || shndx >= ef->shnum)
		return -ENOENT;
	scn = elf_getscn(ef->elf, shndx);
	if (!scn || !gelf_getshdr(scn, &sh))
		return -ENOENT;
	*start = sh.sh_addr;
	*end = sh.sh_addr + sh.sh_size;
	return 0;
}

struct Elf *elf_file__elf(const struct elf_file *ef)
{
	return ef->elf;
}

void elf_file__free(struct elf_file *ef)
{
	if (!ef)
		return;
	if (ef->elf)
		elf_end(ef->elf);
	free(ef->loads);
	free(ef);
}
