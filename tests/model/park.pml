/* park.pml: the idle protocol of runtime/park.c (searching, parking on the
 * per-worker futex word, notify, claim and return of a parked worker,
 * shutdown wake-up), checked exhaustively with Spin for lost wake-ups.
 *
 * What runs
 *   NW workers (loop.c:weft__worker_main, park.c:weft__idle/search/park),
 *   one external submitter of NSUB tasks (submit.c:weft__pool_accept),
 *   one borrower (borrow.c: weft__park_claim, a submit from the call,
 *   weft__park_return), and one closer (shutdown: WEFT_LIFE_STOP, then
 *   submit.c:weft__pool_set_drained once no accepted task is left).
 *   A running task may submit one more task (NSPAWN in all; this stands for
 *   every "make a task visible, then weft__notify" path: weft__push_local,
 *   weft__publish, weft__handoff), and may run forever (NLONG in all: its
 *   worker never looks at the queues again), so that work left queued next
 *   to a sleeping worker stays there for good instead of being picked up
 *   later by the busy worker.
 *
 * Abstractions
 *   - q counts the tasks in the injection queue and in every deque. A look
 *     (look_once, find_local) takes one if q > 0, or finds nothing (which
 *     C can do with work queued: another worker holds the injection queue's lock, a steal
 *     lost its CAS). work_visible is one read of q: each task becomes
 *     visible by one store followed by its publisher's weft__notify, and
 *     that pairing is what is checked.
 *   - idle is two counters updated in one atomic step (one 64-bit RMW);
 *     parked_mask is one word (NW <= 8 here; C scans 64-bit words).
 *   - claim_parked's relaxed load plus CAS loop is one atomic step that
 *     clears the lowest set bit: a successful CAS compared the whole word,
 *     so the bit it clears is the lowest bit set at that instant; a loop
 *     that sees 0 returns NULL.
 *   - futex_wait(&w->park, PARKED) is: atomically, if park == PARKED, the
 *     thread blocks (pw[w] = true) until a futex_wake clears pw[w].
 *     Spurious returns are not modelled (both waits loop while PARKED).
 *     notify's exchange and its futex_wake are one step: only the woken
 *     thread could tell them apart, and it is blocked in between.
 *   - An admission to pool->life and the push of the task it admits are
 *     one step: life only matters to shutdown, which the submitter's
 *     pending admission, the running task or the call holds off anyway.
 *   - Spares (spare.c) are not modelled: a worker that is no spare never
 *     takes weft__spare_surplus's branch of weft__idle.
 *
 * Memory model
 *   Promela is sequentially consistent: every step below is seen by all
 *   processes in one order. The C code is not SC; it gets the orderings
 *   this model relies on from seq_cst fences, each of which closes a
 *   store-buffering (Dekker) pair, where SC is exactly what the pair of
 *   fences guarantees (at least one side reads the other's store):
 *   [PK1] weft__notify: the task's store (deque bottom, injector tail)
 *         then fence then load idle; against park(): idle RMW and mask bit
 *         then fence then the final check (loads of the queues, exiting).
 *         weft__park_return makes the same final check for a borrowed
 *         worker, and weft__pool_set_drained stores exiting, fences and
 *         reads the mask (wake_all) against the parker's fence.
 *   [PK2] weft__search_end: searchers RMW then fence then loads of the
 *         queues; against the submitter's [PK1] fence and load of idle.
 *   Every other step is an RMW on one location (totally ordered in C11
 *   too) or a load/store whose order with the other side is given by a
 *   release/acquire pair ([PK3], [PK4], the mask bit) or by program order
 *   of one thread. The BROKEN_* variants below show what a missing fence
 *   allows: the load of the pair is done before the store (the store sits
 *   in a store buffer, or C11 lets the load read the older value), and
 *   Spin must then find a lost wake-up.
 *
 * Checks
 *   - Invalid end state: every process ends, or blocks where blocking is
 *     legitimate (end_* labels: a parked worker, a task that runs forever,
 *     the closer waiting for tasks that never finish).
 *   - Checker: when nothing can move (Spin's timeout), no task is queued
 *     ([LW] a worker stays parked forever while work is visible), every
 *     sleeping worker is claimable (its mask bit is set) and counted
 *     (sleepers), no searcher is left counted, and after shutdown every
 *     worker has left.
 *   - Assertions on every decrement of idle (no counter underflows).
 *
 * Compile-time options (spin -D...): NW (workers, 2), NSUB (external
 * submits, 1), NSPAWN (1), NLONG (1), NO_BORROW (no borrower), NO_SHUTDOWN
 * (no closer); the broken variants BROKEN_PARK_FENCE (park()'s [PK1]
 * fence), BROKEN_NOTIFY_FENCE (weft__notify's fence after a deque push; an
 * injector push is an xchg, a full barrier, and keeps its order),
 * BROKEN_SEARCH_END_FENCE ([PK2]). tests/model/run says which
 * configurations it verifies.
 *
 * Comments of the form "@file:function: statement" name the C statement a
 * step stands for; tests/model/run checks that the function in runtime/file
 * still contains it (bash tests/model/run --lines prints the line). */

#ifndef NW
#define NW 2
#endif
#ifndef NSUB
#define NSUB 1
#endif
#ifndef NSPAWN
#define NSPAWN 1
#endif
#ifndef NLONG
#define NLONG 1
#endif

#define RUNNING  0   /* PARK_RUNNING */
#define PARKED   1   /* PARK_PARKED */
#define NOTIFIED 2   /* PARK_NOTIFIED */
#define NONE     255 /* claim_parked returned NULL */

byte q;                  /* queued tasks: injection queue + every deque */
byte sleepers;           /* sleepers(pool->idle) */
byte searchers;          /* searchers(pool->idle) */
byte mask;               /* pool->parked_mask[0] */
byte park[NW];           /* w->park */
bool exiting;            /* pool->exiting */
bool stop;               /* WEFT_LIFE_STOP in pool->life */
byte life;               /* accepted tasks and calls not finished (pool->life) */

/* Ghosts (not in C). */
bool pw[NW];             /* w's thread is blocked in futex_wait(&w->park) */
byte nexited;            /* workers that left weft__worker_main's loop */
byte spawn_left = NSPAWN;
byte long_left = NLONG;

/* park.c:notify(w), the waker's half of [PK4]. */
inline notify_worker(v) {
	/* The wake is folded into the exchange's step: only the woken thread
	 * can tell the two apart, and it is blocked in between. */
	/* @park.c:notify: uint32_t prev = atomic_exchange_explicit(&w->park, PARK_NOTIFIED, memory_order_release); */
	/* @park.c:notify: if (prev == PARK_PARKED) { */
	/* @park.c:notify: weft__futex_wake(&w->park, 1); */
	d_step {
		if
		:: park[v] == PARKED -> pw[v] = false
		:: else -> skip
		fi;
		park[v] = NOTIFIED
	}
}

/* park.c:claim_parked, the load and CAS loop as one step (see the header). */
inline claim_parked(v) {
	/* @park.c:claim_parked: uint64_t m = atomic_load_explicit(&p->parked_mask[i], memory_order_relaxed); */
	/* @park.c:claim_parked: if (atomic_compare_exchange_weak_explicit(&p->parked_mask[i], &m, m & ~bit, */
	atomic {
		if
		:: mask == 0 -> v = NONE
		:: else ->
			v = 0;
			do
			:: (mask >> v) & 1 -> break
			:: else -> v++
			od;
			mask = mask & ~(1 << v)
		fi
	}
}

/* park.c:wake_one: claim_parked(p, SEARCHER - SLEEPER), then notify. */
inline wake_one(v, ok) {
	/* @park.c:wake_one: struct weft__worker *w = claim_parked(p, SEARCHER - SLEEPER, p->nslots); */
	claim_parked(v);
	if
	:: v == NONE -> v = 0; ok = false
	:: else ->
		/* [PK3] @park.c:claim_parked: atomic_fetch_add_explicit(&p->idle, idle_delta, memory_order_acq_rel); */
		atomic { assert(sleepers > 0); sleepers--; searchers++ };
		/* @park.c:wake_one: notify(w); */
		notify_worker(v);
		v = 0;
		ok = true
	fi
}

/* park.c:weft__wake_all */
inline wake_all(v, ok) {
	/* @park.c:weft__wake_all: while (wake_one(p)) */
	do
	:: wake_one(v, ok);
		if
		:: !ok -> break
		:: else -> skip
		fi
	od
}

/* park.c:weft__notify, after its fence: load idle and decide (wk). */
inline notify_load() {
	/* @park.c:weft__notify: uint64_t s = atomic_load_explicit(&p->idle, memory_order_relaxed); */
	/* @park.c:weft__notify: if (sleepers(s) != 0 && searchers(s) == 0) */
	wk = (sleepers != 0 && searchers == 0)
}

inline notify_wake(v, ok) {
	if
	:: wk -> wk = false;
		/* @park.c:weft__notify: wake_one(p); */
		wake_one(v, ok);
		ok = false
	:: else -> skip
	fi
}

/* submit.c:weft__pool_accept from a thread that is no worker, after the
 * admission and enqueue (one step in the caller; the xchg of
 * cds_wfcq_enqueue is a full barrier): park.c:weft__notify. */
inline submit_external(v, ok) {
	/* [PK1] @park.c:weft__notify: weft__fence_seq_cst(p); */
	notify_load();
	notify_wake(v, ok)
}

/* submit.c:weft__push_local: a deque push (release store of bottom), then
 * park.c:weft__notify. Also stands for weft__publish and weft__handoff. The
 * push is done by PUSH_STORE in the caller's admitting step (the admission
 * only matters to shutdown, which the running task or call already holds
 * off); push_local_notify is the rest. */
#ifndef BROKEN_NOTIFY_FENCE
/* @submit.c:weft__push_local: if (weft_likely(weft__deque_push(&w->dq, t, flags) == 0)) { */
#define PUSH_STORE q++
inline push_local_notify(v, ok) {
	/* [PK1] @park.c:weft__notify: weft__fence_seq_cst(p); */
	notify_load();
	notify_wake(v, ok)
}
#else
/* No fence: the relaxed load of idle reads before the push is visible. */
#define PUSH_STORE skip
inline push_local_notify(v, ok) {
	notify_load();
	q++;
	notify_wake(v, ok)
}
#endif

/* park.c:look_once (and loop.c:find_local): own deque, injection queue,
 * steal. Finding nothing while q > 0 is allowed (see the header). */
inline look_once(got) {
	/* @park.c:look_once: struct weft__task *t = weft__deque_take(&w->dq, NULL); */
	/* @park.c:look_once: t = weft__inject_take(&w->pool->inj); */
	/* @park.c:look_once: t = weft__steal_any(w, ask); */
	atomic {
		if
		:: q > 0 -> q--; got = true
		:: true -> got = false
		fi
	}
}

/* park.c:weft__search_end */
inline search_end(v, ok) {
	/* @park.c:weft__search_end: if (!w->searching) */
	if
	:: searching ->
#ifdef BROKEN_SEARCH_END_FENCE
		/* No fence: the queue loads read before the RMW is visible. */
		vis = (q > 0);
#endif
		/* @park.c:weft__search_end: w->searching = false; */
		/* [PK2] @park.c:weft__search_end: uint64_t old = atomic_fetch_sub_explicit(&p->idle, SEARCHER, memory_order_seq_cst); */
		atomic {
			assert(searchers > 0);
			wk = (searchers == 1 && sleepers != 0);
			searchers--;
			searching = false
		};
		/* [PK2] @park.c:weft__search_end: weft__fence_seq_cst(p); */
		/* @park.c:weft__search_end: if (searchers(old) == 1 && sleepers(old) != 0 && work_visible(p)) */
		if
		:: wk ->
			wk = false;
#ifndef BROKEN_SEARCH_END_FENCE
			vis = (q > 0);
#endif
			if
			:: vis -> vis = false;
				/* @park.c:weft__search_end: wake_one(p); */
				wake_one(v, ok);
				ok = false
			:: else -> skip
			fi
		:: else -> skip
		fi;
		vis = false
	:: else -> skip
	fi
}

/* park.c:search: try_search, then bounded looks. */
inline search(got) {
	/* @park.c:try_search: if (w->searching) */
	if
	:: searching -> is_s = true
	:: else ->
		/* @park.c:try_search: uint32_t awake = sleepers(s) < p->n ? p->n - sleepers(s) : 0; */
		/* @park.c:try_search: if (searchers(s) != 0 && 2 * searchers(s) >= awake) */
		/* @park.c:try_search: } while (!atomic_compare_exchange_weak_explicit(&p->idle, &s, s + SEARCHER, */
		/* @park.c:try_search: w->searching = true; */
		atomic {
			if
			:: searchers != 0 && 2 * searchers >= (sleepers < NW -> NW - sleepers : 0) ->
				is_s = false
			:: else -> searchers++; searching = true; is_s = true
			fi
		}
	fi;
	/* @park.c:search: if (!try_search(w)) { */
	if
	:: !is_s ->
		/* A worker that may not search: NONSEARCHER_LOOKS + 1 looks (any
		 * number of looks here). */
		do
		:: look_once(got);
			/* @park.c:search: if (t != NULL || i == NONSEARCHER_LOOKS) */
			if
			:: got -> break
			:: else ->
				if
				:: break
				:: skip
				fi
			fi
		od
	:: else ->
		is_s = false;
		do
		:: look_once(got);
			/* @park.c:search: weft__search_end(w); */
			if
			:: got -> search_end(v, ok); break
			:: else -> skip
			fi;
			/* @park.c:search: if (atomic_load_explicit(&p->exiting, memory_order_acquire)) */
			if
			:: exiting -> break
			:: else -> skip
			fi;
			/* @park.c:search: if (weft__now_ns() >= until) */
			if
			:: break
			:: skip
			fi
		od
	fi
}

/* park.c:park */
inline park_worker() {
#ifdef BROKEN_PARK_FENCE
	/* No fence: the final check reads before the sleeper's RMWs are
	 * visible. */
	vis = (q > 0);
	if
	:: !vis -> vis = exiting
	:: else -> skip
	fi;
#endif
	/* @park.c:park: uint64_t delta = SLEEPER - (w->searching ? SEARCHER : 0); */
	/* @park.c:park: w->searching = false; */
	/* [PK1] @park.c:park: atomic_fetch_add_explicit(&p->idle, delta, memory_order_seq_cst); */
	atomic {
		sleepers++;
		if
		:: searching -> assert(searchers > 0); searchers--; searching = false
		:: else -> skip
		fi
	};
	/* @park.c:park: atomic_store_explicit(&w->park, PARK_PARKED, memory_order_relaxed); */
	park[me] = PARKED;
	/* [PK1] @park.c:park: atomic_fetch_or_explicit(&p->parked_mask[w->index / 64], 1ull << (w->index % 64), */
	mask = mask | (1 << me);
#ifndef BROKEN_PARK_FENCE
	/* [PK1] @park.c:park: weft__fence_seq_cst(p); */
	/* @park.c:park: if (work_visible(p) || atomic_load_explicit(&p->exiting, memory_order_acquire)) { */
	vis = (q > 0);
	if
	:: !vis -> vis = exiting
	:: else -> skip
	fi;
#endif
	if
	:: vis ->
		vis = false;
		/* @park.c:unclaim_self: uint64_t old = atomic_fetch_and_explicit(word, ~bit, memory_order_acq_rel); */
		/* @park.c:unclaim_self: if (!(old & bit)) */
		atomic { wk = (mask >> me) & 1; mask = mask & ~(1 << me) };
		if
		:: wk ->
			wk = false;
			/* @park.c:unclaim_self: atomic_fetch_sub_explicit(&p->idle, SLEEPER, memory_order_relaxed); */
			atomic { assert(sleepers > 0); sleepers-- }
		:: else ->
			/* @park.c:park: await_notified(w); */
			do
			/* @park.c:await_notified: while (atomic_load_explicit(&w->park, memory_order_acquire) == PARK_PARKED) */
			:: park[me] == PARKED ->
				/* @park.c:await_notified: weft__futex_wait(&w->park, PARK_PARKED, NULL); */
				atomic {
					if
					:: park[me] == PARKED -> pw[me] = true
					:: else -> skip
					fi
				};
end_await:			!pw[me]
			:: else -> break
			od;
			/* @park.c:await_notified: w->searching = true; */
			searching = true
		fi
	:: else ->
		/* @park.c:park: sleep_parked(w); */
		do
		/* @park.c:sleep_parked: while (atomic_load_explicit(&w->park, memory_order_acquire) == PARK_PARKED) */
		:: park[me] == PARKED ->
			/* @park.c:sleep_parked: weft__futex_wait(&w->park, PARK_PARKED, NULL); */
			atomic {
				if
				:: park[me] == PARKED -> pw[me] = true
				:: else -> skip
				fi
			};
end_sleep:		!pw[me]
		:: else -> break
		od;
		/* @park.c:sleep_parked: w->searching = true; */
		searching = true
	fi;
	/* @park.c:park: atomic_store_explicit(&w->park, PARK_RUNNING, memory_order_relaxed); */
	park[me] = RUNNING
}

/* park.c:weft__idle: returns a task (got) or, once exiting, none. */
inline idle(got) {
	do
	:: /* @park.c:weft__idle: if (atomic_load_explicit(&p->exiting, memory_order_acquire)) { */
		if
		:: exiting ->
			if
			:: searching ->
				/* @park.c:weft__idle: atomic_fetch_sub_explicit(&p->idle, SEARCHER, memory_order_relaxed); */
				atomic { assert(searchers > 0); searchers--; searching = false }
			:: else -> skip
			fi;
			got = false;
			break
		:: else -> skip
		fi;
		/* @park.c:weft__idle: struct weft__task *t = search(w); */
		search(got);
		if
		:: got -> break
		:: else -> skip
		fi;
		/* @park.c:weft__idle: park(w); */
		park_worker()
	od
}

proctype Worker(byte me) {
	bool searching;      /* w->searching */
	bool got, is_s, vis, wk, ok;
	byte v;

	do
	:: /* @loop.c:weft__worker_main: struct weft__task *t = find_local(w); */
		look_once(got);
		if
		:: !got ->
			/* @loop.c:weft__worker_main: t = weft__idle(w); */
			idle(got);
			if
			:: !got ->
				/* @loop.c:weft__worker_main: else if (atomic_load_explicit(&w->pool->exiting, memory_order_acquire)) */
				break
			:: else -> skip
			fi
		:: else -> skip
		fi;
		/* @loop.c:weft__worker_main: weft__run(w, t); */
		/* The task may submit one more (weft__pool_accept on a worker). */
		if
		:: atomic { spawn_left > 0 && !stop -> spawn_left--; life++; PUSH_STORE };
			push_local_notify(v, ok)
		:: skip
		fi;
		if
		:: atomic { long_left > 0 -> long_left-- };
end_long:	false   /* runs forever */
		:: /* @submit.c:weft__life_sub: uint64_t old = atomic_fetch_sub_explicit(&p->life, ntasks * WEFT_LIFE_ONE, */
			atomic { assert(life > 0); life--; got = false }
		fi
	od;
	nexited++
}

proctype Submitter() {
	byte i, v;
	bool wk, ok;

	do
	:: i < NSUB ->
		/* @submit.c:admit_shared: uint64_t old = atomic_fetch_add_explicit(&p->life, n * WEFT_LIFE_ONE, memory_order_relaxed); */
		/* @submit.c:admit_shared: if (weft_unlikely(old & WEFT_LIFE_STOP)) { */
		if
		:: /* @submit.c:weft__pool_queue: weft__inject_push(&p->inj, t); */
			atomic { !stop -> life++; q++ };
			submit_external(v, ok)
		:: atomic { stop -> skip }   /* WEFT_ESHUTDOWN */
		fi;
		i++
	:: else -> break
	od
}

#ifndef NO_BORROW
/* borrow.c: a thread takes a parked worker's place for one call. */
proctype Borrower() {
	byte bw, v;
	bool wk, ok, vis, admitted;

	/* @borrow.c:weft__borrow_begin: struct weft__worker *w = weft__park_claim(p); */
	/* @park.c:weft__park_claim: return claim_parked(p, -SLEEPER, p->n); */
	claim_parked(bw);
	if
	:: bw == NONE -> goto done
	:: else -> skip
	fi;
	/* [PK3] @park.c:claim_parked: atomic_fetch_add_explicit(&p->idle, idle_delta, memory_order_acq_rel); */
	atomic { assert(sleepers > 0); sleepers-- };
	/* @borrow.c:weft__borrow_begin: int rc = weft__pool_admit(p); */
	atomic {
		if
		:: !stop -> life++; admitted = true
		:: else -> admitted = false
		fi
	};
	if
	:: admitted ->
		/* The call submits a future: weft__pool_accept -> weft__push_local
		 * on the borrowed worker's deque; it is still queued when the
		 * call returns. */
		if
		:: atomic { !stop -> life++; PUSH_STORE }; push_local_notify(v, ok)
		:: skip
		fi
	:: else -> skip
	fi;
	/* @borrow.c:weft__borrow_end: weft__park_return(w); */
	/* [PK1] @park.c:weft__park_return: atomic_fetch_add_explicit(&p->idle, SLEEPER, memory_order_seq_cst); */
	sleepers++;
	/* [PK1] @park.c:weft__park_return: atomic_fetch_or_explicit(&p->parked_mask[w->index / 64], 1ull << (w->index % 64), */
	mask = mask | (1 << bw);
	/* [PK1] @park.c:weft__park_return: weft__fence_seq_cst(p); */
	/* @park.c:weft__park_return: if (atomic_load_explicit(&p->exiting, memory_order_acquire)) */
	if
	:: exiting ->
		/* @park.c:weft__park_return: weft__wake_all(p); */
		wake_all(v, ok)
	:: else ->
		/* @park.c:weft__park_return: else if (weft__deque_nonempty(&w->dq) || work_visible(p)) */
		vis = (q > 0);
		if
		:: vis ->
			vis = false;
			/* @park.c:weft__park_return: wake_one(p); */
			wake_one(v, ok)
		:: else -> skip
		fi
	fi;
	ok = false;
	if
	:: admitted ->
		/* @borrow.c:weft__borrow_end: weft__life_sub(p, 1); */
		atomic { assert(life > 0); life--; admitted = false }
	:: else -> skip
	fi;
done:
	bw = 0
}
#endif

/* Shutdown: STOP, then weft__pool_set_drained by whoever sees life reach
 * 0 with STOP set. */
proctype Closer() {
	byte v;
	bool ok;

	stop = true;
	/* @submit.c:weft__life_sub: if ((now & WEFT_LIFE_STOP) && now / WEFT_LIFE_ONE == 0) */
end_wait:
	life == 0;
	/* @submit.c:weft__pool_set_drained: if (atomic_exchange_explicit(&p->exiting, 1, memory_order_acq_rel) == 1) */
	exiting = true;
	/* [PK1] @submit.c:weft__pool_set_drained: weft__fence_seq_cst(p); */
	/* @submit.c:weft__pool_set_drained: weft__wake_all(p); */
	wake_all(v, ok)
}

/* Runs when nothing else can move. */
active proctype Checker() {
	byte i, n;

	timeout;
	/* [LW] no task is left queued while every thread is blocked: no
	 * worker stays parked for good with work visible. */
	assert(q == 0);
	do
	:: i < NW ->
		if
		:: pw[i] ->
			/* a sleeping worker can be claimed by the next waker */
			assert((mask >> i) & 1);
			n++
		:: else -> skip
		fi;
		i++
	:: else -> break
	od;
	assert(sleepers == n);
	assert(searchers == 0);
	assert(!exiting || nexited == NW)
}

init {
	byte i;
	atomic {
#ifndef NO_SHUTDOWN
		run Closer();
#endif
		run Submitter();
#ifndef NO_BORROW
		run Borrower();
#endif
		do
		:: i < NW -> run Worker(i); i++
		:: else -> break
		od
	}
}
