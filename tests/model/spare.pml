/* spare.pml: the spare-thread compensation protocol of runtime/spare.c
 * (the blocked count, each spare's gate, exit), checked exhaustively with
 * Spin for lost wake-ups of spares and for exit.
 *
 * What runs
 *   NB blockers: workers blocked in a wait (wait.c:block_once), each of
 *   which takes a spare with weft__spare_hold (the count's fetch_add, then
 *   spare_run: open the gate of the spare of its rank) and lets it go with
 *   weft__spare_release (spare.h: weft__spare_end), NHOLD times in all; a
 *   blocker may instead stay blocked for good after a hold (a wait that
 *   never ends), which leaves the count above 0 when everything else is
 *   quiet. A hold whose rank has no spare (rank >= NS) keeps the count
 *   raised and opens no gate (spare_run returns false).
 *   NS spares, ranks 0 .. NS-1 (loop.c:weft__worker_main with
 *   spare_rank set): a surplus spare (weft__spare_surplus) runs the NOWN
 *   tasks left on its own deque one at a time, re-checking after each,
 *   then parks on its gate (weft__spare_park) until it is needed again or
 *   the pool exits.
 *   One closer: once every blocker's waits are over (the pool drained:
 *   a blocked wait belongs to an unfinished task; the spare itself may be
 *   let go after that), submit.c:weft__pool_set_drained stores exiting and
 *   calls weft__spare_exit_all.
 *
 * Abstractions
 *   - blocked is one byte: the count in bits 0..6, WEFT__SPARES_EXIT as
 *     bit 7 (C: bit 31 of a 32-bit word). Every access is one step.
 *   - Every spare slot is already RUNNING (its thread started, live past
 *     it), so slot_start returns true for every rank below NS; starting a
 *     slot, its failure paths (spare_ok false, retried at the holder's
 *     next block) and [SP2]/[SP3] are not modelled. A new spare thread
 *     starts with its gate AWAKE and enters the loop, which is where a
 *     spare of this model starts. A retry of a hold whose rank >= NS
 *     fails the same way and is left out.
 *   - A spare that is not surplus stands for everything the loop does
 *     then (running tasks, searching, parking in park.c's protocol, which
 *     park.pml checks): it does not sleep on its gate, and it leaves once
 *     it sees exiting. Its surplus check that returns false is a stutter
 *     step and is only taken when it returns true, except that the
 *     relaxed load may read an older, smaller count: NSTALE such checks
 *     (in all) may find a spare surplus that is needed; park's re-check
 *     then decides. A spare running a task is not itself a blocker here.
 *   - futex_wait(&w->gate, SPARE_SLEEPING) is: atomically, if gate ==
 *     SLEEPING the thread blocks (gw[k] = true) until a wake clears gw[k],
 *     else it returns (EAGAIN). gate_open's exchange and its futex_wake
 *     are one step: only the woken spare could tell them apart, and it is
 *     blocked in between. Spurious returns are not modelled (the wait
 *     loops while SLEEPING, so one only repeats the check).
 *   - weft__spare_park's load of the gate and its futex_wait are one
 *     step: the load only decides whether to call futex_wait, which
 *     compares the gate again.
 *
 * Memory model
 *   Promela is sequentially consistent. The C code gets the orderings this
 *   model relies on from [SP1]'s store-buffering pair: the spare stores
 *   SLEEPING (seq_cst), fences and loads blocked; weft__spare_hold does
 *   its fetch_add (seq_cst), fences and exchanges the gate (seq_cst);
 *   weft__spare_exit_all does its fetch_or (seq_cst), fences and
 *   exchanges every gate. With the fences at least one side of each pair
 *   reads the other's store, which is what SC gives. Every other access is
 *   an RMW of one word (blocked, the gate: totally ordered in C11 too), or
 *   a load ordered by program order and by read-read coherence of one
 *   word. The relaxed load in weft__spare_surplus may read an old count;
 *   NSTALE covers that. BROKEN_PARK_FENCE drops the spare's fence: its
 *   load of blocked is done before its store of SLEEPING (the store sits
 *   in a store buffer), and Spin must then find a spare asleep while the
 *   count says it is needed.
 *
 * Checks
 *   - Invalid end state: every process ends, or blocks where blocking is
 *     legitimate (end_* labels: a spare asleep on its gate, a spare that
 *     is needed and has nothing to do, a blocker blocked for good, the
 *     closer waiting for a wait that never ends).
 *   - Checker: when nothing can move (Spin's timeout), [LW] no spare whose
 *     rank is below the count sleeps on its gate unless the pool exits;
 *     no spare whose rank is at or above the count is left running; the
 *     count equals the number of holds not let go; after exit every spare
 *     has left.
 *   - Assertions on the count (no underflow, no overflow into the exit
 *     bit).
 *
 * Compile-time options (spin -D...): NB (blockers, 2), NS (spares, 2),
 * NHOLD (holds per blocker, 1), NOWN (tasks on each spare's deque, 1),
 * NSTALE (stale surplus checks in all, 1), NO_SHUTDOWN (no closer);
 * the broken variant BROKEN_PARK_FENCE (weft__spare_park's [SP1] fence).
 * tests/model/run says which configurations it verifies.
 *
 * Comments of the form "@file:function: statement" name the C statement a
 * step stands for; tests/model/run checks that the function in runtime/file
 * still contains it (bash tests/model/run --lines prints the line). */

#ifndef NB
#define NB 2
#endif
#ifndef NS
#define NS 2
#endif
#ifndef NHOLD
#define NHOLD 1
#endif
#ifndef NOWN
#define NOWN 1
#endif
#ifndef NSTALE
#define NSTALE 1
#endif

#define EXIT     128 /* WEFT__SPARES_EXIT */
#define COUNT(b) ((b) & 127) /* BLOCKED_COUNT(b) */
#define AWAKE    0   /* SPARE_AWAKE */
#define SLEEPING 1   /* SPARE_SLEEPING */

byte blocked;            /* pool->blocked */
byte gate[NS];           /* w->gate of spare k (slot n + k) */
bool exiting;            /* pool->exiting */

/* Ghosts (not in C). */
bool gw[NS];             /* spare k's thread is blocked in futex_wait(&w->gate) */
byte held;               /* holds not let go */
byte ndone;              /* blockers whose waits are all over */
byte nexited;            /* spares that left weft__worker_main's loop */
byte stale_left = NSTALE;

/* spare.c:gate_open(w) for spare r. */
inline gate_open(r) {
	/* [SP1] @spare.c:gate_open: if (atomic_exchange_explicit(&w->gate, SPARE_AWAKE, memory_order_seq_cst) == SPARE_SLEEPING) */
	/* @spare.c:gate_open: weft__futex_wake(&w->gate, 1); */
	atomic {
		if
		:: gate[r] == SLEEPING -> gw[r] = false
		:: else -> skip
		fi;
		gate[r] = AWAKE
	}
}

proctype Blocker() {
	byte r, n;
	bool done;

	do
	:: n < NHOLD ->
		/* @wait.c:block_once: if (!weft__spare_hold(w)) { */
		/* [SP1] @spare.c:weft__spare_hold: uint32_t prev = atomic_fetch_add_explicit(&p->blocked, 1, memory_order_seq_cst); */
		/* @spare.c:weft__spare_hold: w->spare_held = true; */
		/* @spare.c:weft__spare_hold: w->spare_want = BLOCKED_COUNT(prev); */
		d_step {
			assert(COUNT(blocked) < 127);
			r = COUNT(blocked);
			blocked++;
			held++;
			n++
		};
		/* @spare.c:weft__spare_hold: w->spare_ok = spare_run(p, w->spare_want); */
		/* @spare.c:spare_run: if (rank >= p->nslots - p->n) */
		if
		:: r < NS ->
			/* @spare.c:spare_run: if (!slot_start(p, s)) */
			/* slot_start(p, s): the slot is RUNNING. */
			/* [SP1] @spare.c:spare_run: weft__fence_seq_cst(p); */
			/* @spare.c:spare_run: gate_open(s); */
			gate_open(r)
		:: else ->
			/* No spare of that rank: the count stays raised and
			 * the holder tries again at its next block, which
			 * fails the same way here (every slot runs). */
			skip
		fi;
		/* The wait: it may never end. */
		if
		:: true ->
end_blocked:
			false
		:: true
		fi;
		/* The wait is over; the worker runs again (wait_worker,
		 * weft__run, or its loop going idle) and lets the spare go,
		 * before or after its last task finished. */
		if
		:: n == NHOLD -> atomic { ndone++; done = true }
		:: true
		fi;
		/* @run.c:weft__run: weft__spare_release(w); */
		/* @spare.h:weft__spare_release: weft__spare_end(w); */
		/* @spare.c:weft__spare_end: atomic_fetch_sub_explicit(&w->pool->blocked, 1, memory_order_relaxed); */
		d_step {
			assert(COUNT(blocked) > 0);
			blocked--;
			held--;
			r = 0;
			if
			:: n == NHOLD && !done -> ndone++
			:: else -> skip
			fi;
			done = false
		}
	:: else -> break
	od
}

/* Spare k: weft__worker_main's loop as far as spares go. */
proctype Spare(byte k) {
	byte b;
	byte own = NOWN;         /* tasks on its deque */

top:
	/* @loop.c:weft__worker_main: if (weft_unlikely(weft__spare_surplus(w))) { */
	/* @spare.c:weft__spare_surplus: uint32_t b = atomic_load_explicit(&w->pool->blocked, memory_order_relaxed); */
	/* @spare.c:weft__spare_surplus: return (b & WEFT__SPARES_EXIT) || w->spare_rank >= BLOCKED_COUNT(b); */
end_run:
	if
	:: (blocked & EXIT) || k >= COUNT(blocked)
	:: atomic { stale_left > 0 && !((blocked & EXIT) || k >= COUNT(blocked)) -> stale_left-- }
	:: exiting ->
		/* not surplus: weft__idle returns NULL (exiting) */
		/* @loop.c:weft__worker_main: else if (atomic_load_explicit(&w->pool->exiting, memory_order_acquire)) */
		goto leave
	fi;
	/* surplus: its own tasks first */
	/* @loop.c:weft__worker_main: struct weft__task *own = weft__deque_take(&w->dq, NULL); */
	if
	:: own > 0 ->
		own--;
		/* @loop.c:weft__worker_main: weft__run(w, own); */
		goto top
	:: else -> skip
	fi;
	/* @loop.c:weft__worker_main: if (!weft__spare_park(w)) */
park:
	/* weft__spare_park's loop */
#ifdef BROKEN_PARK_FENCE
	b = blocked;
	gate[k] = SLEEPING;
#else
	gate[k] = SLEEPING;
	b = blocked;
#endif
	/* @spare.c:weft__spare_park: atomic_store_explicit(&w->gate, SPARE_SLEEPING, memory_order_seq_cst); */
	/* [SP1] @spare.c:weft__spare_park: weft__fence_seq_cst(p); */
	/* @spare.c:weft__spare_park: uint32_t b = atomic_load_explicit(&p->blocked, memory_order_relaxed); */
	/* @spare.c:weft__spare_park: if ((b & WEFT__SPARES_EXIT) || w->spare_rank < BLOCKED_COUNT(b)) { */
	if
	:: (b & EXIT) || k < COUNT(b) ->
		/* @spare.c:weft__spare_park: atomic_store_explicit(&w->gate, SPARE_AWAKE, memory_order_relaxed); */
		gate[k] = AWAKE;
		/* @spare.c:weft__spare_park: return !(b & WEFT__SPARES_EXIT); */
		if
		:: b & EXIT -> goto leave
		:: else -> b = 0; goto top
		fi
	:: else -> b = 0
	fi;
	/* @spare.c:weft__spare_park: while (atomic_load_explicit(&w->gate, memory_order_acquire) == SPARE_SLEEPING) */
	/* @spare.c:weft__spare_park: weft__futex_wait(&w->gate, SPARE_SLEEPING, NULL); */
	if
	:: atomic { gate[k] == SLEEPING -> gw[k] = true };
end_sleep:
		!gw[k]
	:: else
	fi;
	goto park;
leave:
	nexited++
}

#ifndef NO_SHUTDOWN
/* The pool drained: weft__pool_set_drained. */
proctype Closer() {
	byte i;

end_wait:
	ndone == NB;
	/* @submit.c:weft__pool_set_drained: if (atomic_exchange_explicit(&p->exiting, 1, memory_order_acq_rel) == 1) */
	exiting = true;
	/* @submit.c:weft__pool_set_drained: weft__spare_exit_all(p); */
	/* [SP1] @spare.c:weft__spare_exit_all: atomic_fetch_or_explicit(&p->blocked, WEFT__SPARES_EXIT, memory_order_seq_cst); */
	blocked = blocked | EXIT;
	/* [SP1] @spare.c:weft__spare_exit_all: weft__fence_seq_cst(p); */
	/* @spare.c:weft__spare_exit_all: for (unsigned i = p->n; i < live; i++) */
	do
	:: i < NS ->
		/* @spare.c:weft__spare_exit_all: gate_open(&p->workers[i]); */
		gate_open(i);
		i++
	:: else -> break
	od
}
#endif

/* Runs when nothing else can move. */
active proctype Checker() {
	byte k;

	timeout;
	assert(COUNT(blocked) == held);
	do
	:: k < NS ->
		/* [LW] a spare the count asks for is not asleep on its gate */
		assert((blocked & EXIT) || k >= COUNT(blocked) || !gw[k]);
		/* and a spare it does not ask for is not left running */
		assert((blocked & EXIT) || k < COUNT(blocked) || gw[k]);
		k++
	:: else -> break
	od;
	/* after exit every spare has left */
	assert(!(blocked & EXIT) || nexited == NS)
}

init {
	byte i;
	atomic {
#ifndef NO_SHUTDOWN
		run Closer();
#endif
		do
		:: i < NS -> run Spare(i); i++
		:: else -> break
		od;
		i = 0;
		do
		:: i < NB -> run Blocker(); i++
		:: else -> break
		od
	}
}
