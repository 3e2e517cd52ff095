/* linkplan.c: the links one process's probes go into (session, uprobe_multi, classic), and creating
 * them. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/array.h"
#include "base/log.h"
#include "trace/linkplan.h"

/* Probes bound for one multi-probe link of one object: a session link, or a uprobe_multi link of
 * entry-type probes (entry points that need no return, and exit probes). */
struct link_plan {
	struct object *o;
	uint64_t *offsets, *cookies;
	size_t n, cap;
	bool session;
};

struct link_plans {
	struct link_plan *plans;
	size_t n, cap;
};

struct link_plans *link_plans__new(void)
{
	return calloc(1, sizeof(struct link_plans));
}

/* The plan of o's link of that kind, made if there is none yet. NULL: no memory. */
static struct link_plan *plan_of(struct link_plans *lp, struct object *o, bool session)
{
	struct link_plan *p;

	for (size_t i = 0; i < lp->n; i++)
		if (lp->plans[i].o == o && lp->plans[i].session == session)
			return &lp->plans[i];
	if (array_reserve(&lp->plans, &lp->cap, lp->n, sizeof(*lp->plans), 8))
		return NULL;
	p = &lp->plans[lp->n++];
	memset(p, 0, sizeof(*p));
	p->o = o;
	p->session = session;
	return p;
}

int link_plans__add(struct link_plans *lp, struct object *o, bool session, uint64_t offset,
		    uint64_t cookie)
{
	struct link_plan *p = plan_of(lp, o, session);

	if (!p)
		return -ENOMEM;
	for (size_t i = 0; i < p->n; i++)
		if (p->offsets[i] == offset)
			return 0;
	if (p->n == p->cap) {
		size_t cap = p->cap ? 2 * p->cap : 16;
		uint64_t *off = realloc(p->offsets, cap * sizeof(*off));

		if (!off)
			return -ENOMEM;
		p->offsets = off;
		off = realloc(p->cookies, cap * sizeof(*off));
		if (!off)
			return -ENOMEM;
		p->cookies = off;
		p->cap = cap;
	}
	p->offsets[p->n] = offset;
	p->cookies[p->n++] = cookie;
	return 0;
}

static int attach_classic(struct tracer *t, int pid, const struct probe *pr)
{
	int err;

	err = tracer__attach(t, pid, pr->o->attach_path, pr->probe, entrypoint_cookie(pr, pr->sp_adj),
			     false);
	if (!err && pr->needs_return)
		err = tracer__attach(t, pid, pr->o->attach_path, entrypoint_return_offset(pr), 0, true);
	if (err)
		log_error("cannot attach %s in %s: %s", pr->name, pr->o->path, strerror(-err));
	return err;
}

int link_plans__place(struct link_plans *lp, struct tracer *t, int pid, const struct probe *pr)
{
	bool moved = pr->needs_return && pr->sp_adj;

	if (tracer__sessions(t) && pr->session_ok)
		return link_plans__add(lp, pr->o, true, moved ? pr->start : pr->probe,
				       entrypoint_cookie(pr, moved ? 0 : pr->sp_adj));
	if (!pr->needs_return && tracer__multi(t))
		return link_plans__add(lp, pr->o, false, pr->probe,
				       entrypoint_cookie(pr, pr->sp_adj));
	return attach_classic(t, pid, pr);
}

/* Classic probes at the offsets of a link the kernel refused (the pairs' returns added by kind). */
static int attach_plan_classic(struct tracer *t, int pid, const struct link_plan *p,
			       const struct probe *probes, size_t nr_probes)
{
	int err = 0;

	for (size_t k = 0; !err && k < p->n; k++)
		err = tracer__attach(t, pid, p->o->attach_path, p->offsets[k], p->cookies[k], false);
	for (size_t k = 0; !err && p->session && k < nr_probes; k++)
		if (probes[k].o == p->o && probes[k].needs_return)
			err = tracer__attach(t, pid, p->o->attach_path,
					     entrypoint_return_offset(&probes[k]), 0, true);
	return err == -EOPNOTSUPP ? 0 : err;
}

int link_plans__attach(struct link_plans *lp, struct tracer *t, int pid, const struct probe *probes,
		       size_t nr_probes)
{
	int err;

	for (size_t i = 0; i < lp->n; i++) {
		struct link_plan *p = &lp->plans[i];

		if (p->session)
			err = tracer__attach_session(t, pid, p->o->attach_path, p->offsets, p->cookies,
						     p->n);
		else
			err = tracer__attach_multi(t, pid, p->o->attach_path, p->offsets, p->cookies,
						   p->n);
		if (err == -EOPNOTSUPP)
			err = attach_plan_classic(t, pid, p, probes, nr_probes);
		if (err) {
			log_error("cannot attach the probes in %s: %s", p->o->path, strerror(-err));
			return err;
		}
	}
	return 0;
}

void link_plans__free(struct link_plans *lp)
{
	if (!lp)
		return;
	for (size_t i = 0; i < lp->n; i++) {
		free(lp->plans[i].offsets);
		free(lp->plans[i].cookies);
	}
	free(lp->plans);
	free(lp);
}
