/* future_word.pml: a future's 32-bit state word (runtime/future.h) and the
 * threads that sleep on it (runtime/wait.c), checked exhaustively with Spin
 * for a waiter left asleep on a completed future.
 *
 * What runs (one future of a pool, i.e. a task)
 *   runner     the worker that pops the task: future.c:future_run ->
 *              start_and_run (CAS PENDING -> RUNNING|STARTED, run, then
 *              weft__word_complete); if a canceller claimed it first, it
 *              waits for that completion (wait.c:wait_worker with no
 *              runner and no deadline: timed sleeps until it holds a
 *              spare, then untimed ones).
 *   canceller  weft_future_request_cancel from a thread that is no worker:
 *              weft_future_cancel (claim from PENDING, then complete as
 *              CANCELLED; or, if someone else claimed, wait for it), then
 *              fetch_or CANCEL_REQ (the word changes under sleepers).
 *   waiter 0   weft_future_wait with no deadline on a thread that is no
 *              worker (word.c:weft__word_wait_thread, no deadline).
 *   waiter 1   the same with a deadline: a sleep may time out, and the
 *              waiter then returns WEFT_ETIMEDOUT leaving WAITERS set.
 *   waiter 2   weft_future_wait with no deadline on a worker
 *              (wait.c:wait_worker with a runner): it may run the awaited
 *              task inline (weft__future_try_run -> start_and_run), and
 *              otherwise sleeps in timed slices.
 *   So three waiters, up to five sleepers, one of three possible
 *   completers, timeouts and spurious wake-ups.
 * With -DPROMISE, a promise (no pool) instead:
 *   setter     weft_promise_set_running (CAS PENDING -> RUNNING, or wait if
 *              a canceller claimed it), then weft_promise_set_result (claim
 *              from PENDING or RUNNING, complete as FINISHED).
 *   canceller  as above.
 *   waiter 0   as above.
 *   waiter 1   weft_future_wait with a deadline on a worker (wait_worker,
 *              no runner: a timed wait never helps).
 *   waiter 2   weft_future_wait with no deadline on a worker (wait_worker,
 *              no runner: a promise has no task).
 *
 * Abstractions
 *   - The word is a byte with the bit values of future.h (phase in bits
 *     0-1, WAITERS 4, CANCEL_REQ 8, FAILED 16 unused, CLAIMED 32,
 *     STARTED 64).
 *   - futex_wait(word, expected, deadline) is: atomically, if word ==
 *     expected the thread blocks (fw[i] = true), else it returns EAGAIN. A
 *     blocked thread leaves when a FUTEX_WAKE on the word clears fw[i]
 *     (returns 0), when its deadline passes (timed sleeps only: ETIMEDOUT),
 *     or spuriously (0: EINTR, or a wake meant for an earlier user of the
 *     memory). FUTEX_WAKE(INT_MAX) clears every fw[i].
 *   - Polling (pauses, yields) is loads only: one load stands for it.
 *   - Listeners, the outcome fields and references are not modelled (the
 *     runtime's reference keeps the word alive until after the wake).
 *
 * Memory model
 *   Promela is sequentially consistent. Here that needs no fence: every
 *   step that matters is an RMW or a load of the one word (C11 orders all
 *   RMWs of one location, and coherence orders the loads), and the futex
 *   compares the word inside the kernel under its hash-bucket lock. [WD2]
 *   is the argument: a waiter's WAITERS CAS either precedes the
 *   completer's exchange (which then returns WAITERS and wakes) or fails
 *   (the waiter reloads and sees the done phase), and a waiter whose word
 *   changed after its CAS gets EAGAIN instead of sleeping.
 *
 * Checks
 *   - At the completing exchange, every thread asleep on the word finds
 *     WAITERS in the value the exchange returns (so the wake that follows
 *     reaches it).
 *   - Invalid end state: every process ends (no end labels): a waiter
 *     blocked for good is an error, on a completed word or not.
 *   - Checker (when nothing can move): the word is done, nobody sleeps on
 *     it, it was completed exactly once; untimed waits returned WEFT_OK.
 *
 * Broken variants (spin -D...), which Spin must reject:
 *   BROKEN_WAITERS_STORE     weft__word_sleep sets WAITERS with a plain store of
 *                            the value it loaded instead of the CAS, so it
 *                            never notices that the word changed.
 *   BROKEN_CLEAR_ON_TIMEOUT  a waiter whose sleep timed out clears WAITERS
 *                            (fetch_and), which the C code does not do
 *                            ([WD2]: unsafe with more waiters).
 *
 * Comments of the form "@file:function: statement" name the C statement a
 * step stands for; tests/model/run checks that the function in runtime/file
 * still contains it (bash tests/model/run --lines prints the line). */

#define PHASE      3
#define PENDING    0
#define RUNNING    1
#define FINISHED   2
#define CANCELLED  3
#define WAITERS    4
#define CANCEL_REQ 8
#define CLAIMED    32
#define STARTED    64

#define DONE(x) (((x) & PHASE) >= FINISHED)

/* futex_wait results (r) and wait results (rc) */
#define R_OK        0
#define R_EAGAIN    1
#define R_ETIMEDOUT 2

#define NPROC 5       /* runner, canceller, waiters 0-2 */
#define RUNNER    0
#define CANCELLER 1
#define WAITER0   2

byte word = PENDING;      /* f->state */

/* Ghosts (not in C). */
bool fw[NPROC];           /* process i is blocked in futex_wait(&f->state) */
byte completions;         /* exchanges that completed the word */
bool untimed_ok[NPROC];   /* an untimed wait returned WEFT_OK */

#define ANY_ASLEEP (fw[0] || fw[1] || fw[2] || fw[3] || fw[4])

/* wait.c:weft__word_complete */
inline complete(final) {
	/* [WD1] @word.c:weft__word_complete: uint32_t old = atomic_exchange_explicit(word, final, memory_order_acq_rel); */
	atomic {
		assert(!DONE(word));
		/* [WD2] everyone asleep on the word set WAITERS first */
		assert(!ANY_ASLEEP || (word & WAITERS));
		s = word;
		word = final;
		completions++
	};
	/* @word.c:weft__word_complete: if (old & WEFT_WORD_WAITERS) */
	if
	:: s & WAITERS ->
		/* @word.c:weft__word_complete: weft__futex_wake(word, INT_MAX); */
		d_step { fw[0] = false; fw[1] = false; fw[2] = false; fw[3] = false; fw[4] = false }
	:: else -> skip
	fi;
	s = 0
}

/* futex.c:weft__futex_wait(word, expected, deadline) -> r */
inline futex_wait(expected, timed) {
	/* @futex.c:weft__futex_wait: long rc = syscall(SYS_futex, (uint32_t *)word, FUTEX_WAIT_BITSET | FUTEX_PRIVATE_FLAG, */
	atomic {
		if
		:: word == expected -> fw[me] = true; r = R_OK
		:: else -> r = R_EAGAIN
		fi
	};
	if
	:: r == R_EAGAIN -> skip
	:: else ->
		if
		:: !fw[me] -> skip                                  /* woken */
		:: atomic { timed && fw[me] -> fw[me] = false; r = R_ETIMEDOUT }
		:: atomic { fw[me] -> fw[me] = false }              /* spurious, EINTR */
		fi
	fi
}

/* word.c:weft__word_sleep -> r (R_ETIMEDOUT or R_OK) */
inline sleep_once(timed) {
	/* @word.c:weft__word_sleep: uint32_t s = weft__word_load(word); */
	s = word;
	/* @word.c:weft__word_sleep: if (weft__word_done(s)) */
	if
	:: DONE(s) -> r = R_OK
	:: else ->
		/* @word.c:weft__word_sleep: if (!(s & WEFT_WORD_WAITERS)) { */
		if
		:: !(s & WAITERS) ->
#ifdef BROKEN_WAITERS_STORE
			word = s | WAITERS;
			s = s | WAITERS;
			ok = true
#else
			/* [WD2] @word.c:weft__word_sleep: if (!atomic_compare_exchange_strong_explicit(word, &s, s | WEFT_WORD_WAITERS, */
			/* @word.c:weft__word_sleep: s |= WEFT_WORD_WAITERS; */
			atomic {
				if
				:: word == s -> word = s | WAITERS; s = s | WAITERS; ok = true
				:: else -> s = word; ok = false
				fi
			}
#endif
		:: else -> ok = true
		fi;
		if
		:: !ok -> r = R_OK
		:: else ->
			/* @word.c:weft__word_sleep: return weft__futex_wait(word, s, deadline) != -ETIMEDOUT; */
			futex_wait(s, timed);
			/* @word.c:weft__word_sleep: return weft__futex_wait(word, s, deadline) != -ETIMEDOUT; */
			if
			:: r == R_ETIMEDOUT ->
#ifdef BROKEN_CLEAR_ON_TIMEOUT
				word = word & ~WAITERS;
#endif
				skip
			:: else -> r = R_OK
			fi
		fi
	fi;
	s = 0;
	ok = false
}

/* future.c:start_and_run -> ok (it ran and completed the future) */
inline start_and_run() {
	/* @future.c:weft__future_start_run: uint32_t s = atomic_load_explicit(&f->state, memory_order_relaxed); */
	s = word;
	do
	:: /* @future.c:weft__future_start_run: if ((s & WEFT_ST_PHASE) != WEFT_PENDING || (s & WEFT_ST_CLAIMED)) */
		if
		:: (s & PHASE) != PENDING || (s & CLAIMED) -> ok = false; break
		:: else -> skip
		fi;
		/* @future.c:weft__future_start_run: if (atomic_compare_exchange_weak_explicit(&f->state, &s, */
		atomic {
			if
			:: word == s -> word = (s & ~PHASE) | RUNNING | STARTED; ok = true
			:: else -> s = word; ok = false
			fi
		};
		if
		:: ok -> break
		:: else -> skip
		fi
	od;
	s = 0;
	if
	:: ok ->
		/* @future.c:weft__future_start_run: int status = src->fn(&w->ctx, f->arg, &result); */
		/* @future.c:weft__future_start_run: weft__future_complete(f, WEFT_FINISHED | WEFT_ST_STARTED | (status != 0 ? WEFT_ST_FAILED : 0)); */
		complete(FINISHED | STARTED)
	:: else -> skip
	fi
}

/* future.c:claim(f, allow) -> ok; allow: PENDING, and RUNNING too if
 * also_running. */
inline claim(also_running) {
	/* @future.c:weft__future_claim: uint32_t s = atomic_load_explicit(&f->state, memory_order_relaxed); */
	s = word;
	do
	:: /* @future.c:weft__future_claim: if ((s & WEFT_ST_CLAIMED) || !(allow_mask & (1u << (s & WEFT_ST_PHASE)))) */
		if
		:: (s & CLAIMED) || ((s & PHASE) != PENDING && !(also_running && (s & PHASE) == RUNNING)) ->
			ok = false; break
		:: else -> skip
		fi;
		/* @future.c:weft__future_claim: if (atomic_compare_exchange_weak_explicit(&f->state, &s, s | WEFT_ST_CLAIMED, */
		atomic {
			if
			:: word == s -> word = s | CLAIMED; ok = true
			:: else -> s = word; ok = false
			fi
		};
		if
		:: ok -> break
		:: else -> skip
		fi
	od;
	s = 0
}

/* word.c:weft__word_wait_thread -> rc */
inline wait_external(timed) {
	/* @word.c:weft__word_wait_thread: if (weft__word_done(weft__word_load(word))) */
	do
	:: DONE(word) -> rc = R_OK; break
	:: else ->
		/* @word.c:weft__word_wait_thread: if (!weft__word_sleep(word, deadline)) */
		sleep_once(timed);
		if
		:: r == R_ETIMEDOUT ->
			r = R_OK;
			/* @word.c:weft__word_wait_thread: return weft__word_done(weft__word_load(word)); */
			rc = (DONE(word) -> R_OK : R_ETIMEDOUT);
			break
		:: else -> skip
		fi
	od
}

/* wait.c:wait_worker -> rc. helping: a runner is given (h != NULL). A
 * worker holds a spare (weft__spare_hold: one more worker runs in its place)
 * from when it has waited long enough (any time here; it may hold one
 * already when the wait starts) until it runs a task again. Without a
 * spare every sleep is timed (until the spare is due); with one, a helping
 * wait sleeps in timed slices and one that does not help sleeps until its
 * deadline. So only a wait that neither helps nor has a deadline ever
 * sleeps untimed, and only there does the model track the spare. */
inline wait_worker(helping, timed) {
	if
	:: !helping && !timed ->
		if
		:: spare = true
		:: skip
		fi
	:: else -> skip
	fi;
	do
	:: /* @wait.c:wait_worker: if (weft__word_done(weft__word_load(word))) { */
		/* @wait.c:wait_worker: weft__spare_release(w); */
		DONE(word) -> rc = R_OK; break
	:: else ->
		/* @wait.c:wait_worker: if (deadline != NULL && weft__deadline_passed(deadline)) */
		/* @wait.c:wait_worker: return weft__word_done(weft__word_load(word)) ? WEFT_OK : WEFT_ETIMEDOUT; */
		if
		:: timed -> rc = (DONE(word) -> R_OK : R_ETIMEDOUT); break
		:: true -> skip
		fi;
		/* @wait.c:wait_worker: if (h != NULL && help_step(w, h)) { */
		/* @wait.c:help_step: if (h->runner.run != NULL && weft__stack_room(w) && h->runner.run(h->runner.arg, w)) */
		/* @future.c:weft__future_try_run: bool ran = weft__future_start_run(f, w); */
		/* (weft__spare_release(w) follows: no spare is tracked here) */
		if
		:: helping -> start_and_run()
		:: else -> skip
		fi;
		if
		:: ok -> ok = false
		:: else ->
			/* @wait.c:wait_worker: if (!block_once(w, word, deadline, &slice, h != NULL) && fallback != NULL && */
			if
			:: helping || timed ->
				/* @wait.c:block_once: weft__word_sleep(word, &until); */
				/* (or, with a spare and no help: sleep_once(word, deadline), timed too) */
				sleep_once(true)
			:: else ->
				/* @wait.c:block_once: if (now >= due) { */
				/* @wait.c:block_once: if (!weft__spare_hold(w)) { */
				if
				:: !spare -> spare = true
				:: true -> skip
				fi;
				/* @wait.c:block_once: if (w->spare_ok && !helping) { */
				if
				:: spare ->
					/* @wait.c:block_once: weft__word_sleep(word, deadline); */
					sleep_once(false)
				:: else ->
					sleep_once(true)
				fi
			fi;
			r = R_OK
		fi
	od;
	spare = false
}

#ifndef PROMISE
/* The worker that pops the task: future.c:future_run. */
proctype Runner() {
	byte me = RUNNER;
	byte s, r, rc;
	bool ok, spare;

	/* @future.c:weft__future_run_queued: } else if (weft__future_start_run(f, w)) { */
	start_and_run();
	if
	:: ok -> ok = false; untimed_ok[me] = true
	:: else ->
		/* @future.c:settle_queued: if ((s & WEFT_ST_CLAIMED) && (s & WEFT_ST_PHASE) == WEFT_PENDING) */
		if
		:: (word & CLAIMED) && (word & PHASE) == PENDING ->
			/* @future.c:settle_queued: weft__word_wait(&f->state, NULL); */
			/* @wait.c:wait_word: return wait_worker(w, word, h, deadline, fallback); */
			wait_worker(false, false);
			untimed_ok[me] = (rc == R_OK)
		:: else -> untimed_ok[me] = true
		fi
	fi
}
#else
/* The thread that owns a promise: weft_promise_set_running, then
 * weft_promise_set_result. */
proctype Setter() {
	byte me = RUNNER;
	byte s, r, rc;
	bool ok;

	/* @promise.c:weft_promise_set_running: uint32_t s = atomic_load_explicit(&f->state, memory_order_relaxed); */
	s = word;
	do
	:: /* @promise.c:weft_promise_set_running: while ((s & WEFT_ST_PHASE) == WEFT_PENDING && !(s & WEFT_ST_CLAIMED)) { */
		(s & PHASE) == PENDING && !(s & CLAIMED) ->
		/* @promise.c:weft_promise_set_running: if (atomic_compare_exchange_weak_explicit(&f->state, &s, */
		atomic {
			if
			:: word == s -> word = (s & ~PHASE) | RUNNING; ok = true
			:: else -> s = word; ok = false
			fi
		};
		if
		:: ok -> break
		:: else -> skip
		fi
	:: else -> break
	od;
	untimed_ok[me] = true;
	if
	:: ok -> ok = false
	:: else ->
		/* @promise.c:weft_promise_set_running: if ((s & WEFT_ST_CLAIMED) && !weft__word_done(s)) { */
		if
		:: (s & CLAIMED) && !DONE(s) ->
			/* @promise.c:weft_promise_set_running: weft__word_wait(&f->state, NULL); */
			/* @wait.c:wait_word: return weft__word_wait_thread(word, deadline) ? WEFT_OK : WEFT_ETIMEDOUT; */
			wait_external(false);
			untimed_ok[me] = (rc == R_OK)
		:: else -> skip
		fi
	fi;
	s = 0;
	/* @promise.c:promise_complete: else if (!weft__future_claim(f, WEFT__ALLOW(WEFT_PENDING) | WEFT__ALLOW(WEFT_RUNNING))) */
	claim(true);
	if
	:: ok ->
		ok = false;
		/* @promise.c:promise_complete: weft__future_complete(f, WEFT_FINISHED | (status != 0 ? WEFT_ST_FAILED : 0)); */
		complete(FINISHED)
	:: else -> skip
	fi
}
#endif

/* weft_future_request_cancel from a thread that is no worker. */
proctype Canceller() {
	byte me = CANCELLER;
	byte s, r, rc;
	bool ok;

	/* @future.c:weft_future_cancel: if (weft__future_claim(f, WEFT__ALLOW(WEFT_PENDING))) { */
	claim(false);
	if
	:: ok ->
		ok = false;
		/* @future.c:cancel_claimed: weft__future_complete(f, WEFT_CANCELLED); */
		complete(CANCELLED);
		untimed_ok[me] = true
	:: else ->
		/* @future.c:weft_future_cancel: uint32_t s = load_state(f); */
		s = word;
		/* @future.c:weft_future_cancel: if ((s & WEFT_ST_CLAIMED) && !weft__word_done(s)) { */
		if
		:: (s & CLAIMED) && !DONE(s) ->
			s = 0;
			/* @future.c:weft_future_cancel: weft__word_wait(&f->state, NULL); */
			/* @wait.c:wait_word: return weft__word_wait_thread(word, deadline) ? WEFT_OK : WEFT_ETIMEDOUT; */
			wait_external(false);
			untimed_ok[me] = (rc == R_OK)
		:: else -> s = 0; untimed_ok[me] = true
		fi;
		/* @future.c:weft_future_request_cancel: atomic_fetch_or_explicit(&f->state, WEFT_ST_CANCEL_REQ, memory_order_relaxed); */
		word = word | CANCEL_REQ
	fi
}

/* weft_future_wait from a thread that is no worker. */
proctype ExternalWaiter(byte me; bool timed) {
	byte s, r, rc;
	bool ok;

	/* @wait.c:wait_word: return weft__word_wait_thread(word, deadline) ? WEFT_OK : WEFT_ETIMEDOUT; */
	wait_external(timed);
	untimed_ok[me] = timed || rc == R_OK
}

/* weft_future_wait on a worker: with no deadline, a task's wait helps
 * (weft__word_wait_help: a runner); a promise's or a timed wait does not
 * (weft__word_wait). */
proctype WorkerWaiter(byte me; bool helping; bool timed) {
	byte s, r, rc;
	bool ok, spare;

	/* @future.c:weft__future_wait: if (deadline != NULL) */
	/* @future.c:weft__future_wait: return weft__word_wait_help(&f->state, &h); */
	/* @wait.c:weft__word_wait_help: return wait_word(word, h, NULL, NULL); */
	/* @wait.c:wait_word: return wait_worker(w, word, h, deadline, fallback); */
	wait_worker(helping, timed);
	untimed_ok[me] = timed || rc == R_OK
}

/* Runs when nothing else can move. */
active proctype Checker() {
	byte i;

	timeout;
	do
	:: i < NPROC ->
		/* no thread is left asleep on the word */
		assert(!fw[i]);
		assert(untimed_ok[i]);
		i++
	:: else -> break
	od;
	assert(DONE(word));
	assert(completions == 1)
}

init {
	atomic {
		run Canceller();
		run ExternalWaiter(WAITER0, false);
#ifndef PROMISE
		run Runner();
		run ExternalWaiter(WAITER0 + 1, true);
		run WorkerWaiter(WAITER0 + 2, true, false)
#else
		run Setter();
		run WorkerWaiter(WAITER0 + 1, false, true);
		run WorkerWaiter(WAITER0 + 2, false, false)
#endif
	}
}
