/* lazy.pml: a thief's request for an owner's private children (runtime/
 * lazy.c, "Lazy publication", ordering [LZ1]), checked exhaustively with
 * Spin for a request that no later spawn answers.
 *
 * What runs
 *   owner   spawns NSPAWN children (weft.h's inline spawn: the bound check
 *           s < bound, else group.c:weft__spawn_slow), and between them
 *           and after them makes "steps" that may answer a request with
 *           nothing private left to publish (a sync's run_inline, a
 *           helping wait's help_one, weft__sync_take_slow: all call
 *           weft__lazy_asked, then weft__publish_half if asked). Then it
 *           syncs its private children (the inline take-back reads no
 *           request), and is done.
 *   thief   a worker with nothing to do (steal.c:steal_from on its last
 *           look before parking, or a borrowed slot going back to sleep:
 *           borrow.c's weft__steal_ask_all; both through ask_owner): it
 *           takes a published child if there is one, else asks once
 *           (steal_req, then bound = NULL) and parks
 *           until a child is published or the owner is done (park.pml
 *           checks that a publication's notify wakes it).
 *
 * Abstractions
 *   - bound is END or NULL; priv and pub count the owner's private and
 *     published children; publication moves the older half (rounded up).
 *   - Sequential consistency: the C code orders the two store-load pairs
 *     (the thief's steal_req then bound, the owner's bound then steal_req)
 *     with seq_cst fences ([LZ1]), so every execution of the C code is one
 *     of the interleavings checked here.
 *
 * Property (assert after every spawn): a parked thief whose request stands
 * is answered by this spawn (something is published) or by a later one
 * (bound is still NULL, so the next spawn takes the slow path). Broken
 * variant -DBROKEN_NO_RELOWER: publication with nothing to publish leaves
 * the bound restored, and the request waits for good while the owner
 * spawns on the fast path. */

#ifndef NSPAWN
#define NSPAWN 3
#endif
#ifndef NSTEP
#define NSTEP 2
#endif

#define END 1
#define NUL 0

byte bound = END;
bit req = 0;
byte priv = 0;
byte pub = 0;
bit parked = 0;
bit done = 0;

/* weft__lazy_asked: put the bound back, then read the request. */
inline asked(a)
{
	/* @lazy.c:weft__lazy_asked: if (__atomic_load_n(&l->bound, __ATOMIC_RELAXED) != l->end) { */
	if
	:: bound != END ->
		/* @lazy.c:weft__lazy_asked: __atomic_store_n(&l->bound, l->end, __ATOMIC_RELAXED); */
		bound = END
		/* [LZ1] @lazy.c:weft__lazy_asked: weft__fence_seq_cst(w->pool); */
	:: else -> skip
	fi;
	/* @lazy.c:weft__lazy_asked: return weft__steal_requested(l); */
	a = req
}

/* publish(w, half) */
inline publish_half()
{
	if
	:: priv == 0 ->
#ifndef BROKEN_NO_RELOWER
		/* @lazy.c:publish: if (weft__steal_requested(l)) */
		if
		:: req == 1 ->
			/* @lazy.c:publish: __atomic_store_n(&l->bound, NULL, __ATOMIC_RELAXED); */
			bound = NUL
		:: else -> skip
		fi
#else
		skip
#endif
	:: else ->
		/* @lazy.c:publish: weft__steal_req_set(w, 0); */
		req = 0;
		pub = pub + (priv + 1) / 2;
		priv = priv - (priv + 1) / 2
		/* the thief wakes: @lazy.c:publish: weft__notify(w->pool); */
	fi
}

/* A step that may answer a request (run_inline, help_one, take_slow). */
inline step()
{
	asked(sa);
	if
	:: sa -> publish_half()
	:: else -> skip
	fi
}

active proctype owner()
{
	byte n = 0;
	byte k = 0;
	bit a;
	bit sa;
	do
	:: n < NSPAWN ->
		/* weft.h's spawn fast path: s < weft__bound(l) */
		if
		:: bound == END -> priv++
		:: else ->
			/* @group.c:weft__spawn_slow: bool asked = weft__lazy_asked(w); */
			asked(a);
			priv++;
			/* @group.c:weft__spawn_slow: if (asked) */
			if
			:: a -> publish_half()
			:: else -> skip
			fi
		fi;
		n++;
		assert(!(parked && req == 1 && bound == END && pub == 0));
	:: k < NSTEP -> step(); k++
	:: n == NSPAWN -> break
	od;
	/* The syncs: private children taken back without looking at requests. */
	do
	:: priv > 0 -> priv--
	:: priv == 0 -> break
	od;
	/* A published child not stolen is taken back off the deque too. */
	atomic { done = 1; pub = 0 }
}

active proctype thief()
{
	do
	:: atomic { pub > 0 -> pub-- }
	:: pub == 0 && !done ->
		/* @steal.c:ask_owner: if (!weft__steal_requested(&v->ctx.lazy)) { */
		if
		:: req == 0 ->
			/* @steal.c:ask_owner: weft__steal_req_set(v, 1); */
			req = 1;
			/* [LZ1] @steal.c:ask_owner: weft__fence_seq_cst(w->pool); */
			/* @steal.c:ask_owner: __atomic_store_n(&v->ctx.lazy.bound, NULL, __ATOMIC_RELAXED); */
			bound = NUL
		:: else -> skip
		fi;
		parked = 1;
end_park:
		(pub > 0 || done);
		parked = 0
	:: done -> break
	od
}
