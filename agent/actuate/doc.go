// Package actuate is the edge's safety controller: it decides whether a
// command may run, applies it to an actuators.Output, and reports what
// became of it. Its rules come from the edge's own configuration (Config,
// Spec); nothing in a command can override them.
//
// # Who calls what
//
// The uplink's command source calls Submit and SetUplink; the edge's own
// dashboard calls Local; the agent reads Sensors (the actuators' states as
// ordinary readings) and announces Actuators. Run's goroutine is the only
// one that sets outputs and calls Options.Report, in order. Submit and
// Local never block long: a command waits in a bounded queue
// (Options.QueueLen).
//
// # Order of checks
//
// At Submit (refused at once, Submit returns a *RefusedError and the
// refusal is reported; none is recorded in the ledger):
//
//  1. invalid (command.Validate) -> refused invalid; nothing is reported
//     when the id, device or actuator is not a valid id, nor for Local
//  2. another device -> refused wrong_device (the status names this device)
//  3. queue full -> refused busy
//
// In Run's goroutine, in queue order (a Local command is first reported
// as given, Event{Command}, whatever follows):
//
//  4. an id the ledger holds, with the same actuator, value and deadline
//     (a redelivery) -> its recorded statuses are reported again
//     (accepted, then its outcome); nothing is applied. The same id with
//     another actuator, value or deadline -> refused duplicate_id, Detail
//     naming what the id was used for (not recorded, never applied: the
//     first command's outcome is not the second's)
//  5. the ledger holds Options.MaxIDs live ids -> refused busy (not
//     recorded), unless the command sets its actuator to 0 (off) or to its
//     safe value (Spec.Safe, not holding): such a command is checked on
//     (6 to 13) and applied without being recorded. Setting off or safe
//     twice is harmless, so at-most-once does not matter for it, and a
//     full ledger (ids live for up to command.MaxLifetime) must never keep
//     an actuator from being switched off. The same holds when the ledger
//     cannot record it (a disk error): it is applied unrecorded, where any
//     other command is refused busy.
//  6. Options.ClockTrusted false -> refused clock_untrusted
//  7. the deadline passed (by Options.Now) -> expired deadline
//  8. the ledger was found damaged and the command was recorded (At) before
//     then plus a minute -> refused interrupted (see below)
//  9. no such actuator -> refused unknown_actuator
//  10. a switch's value not 0 or 1, a level's not 0 nor in Min..Max ->
//     refused out_of_range
//  11. switching on (above 0) while an interlocked actuator is on ->
//     refused interlock; Detail names the other first ("fan is on, ...")
//  12. switching on from off sooner than MinOff after it went off (a boot
//     counts as going off) -> refused min_off_time
//  13. PerMinute commands already tried on it in the last 60 s -> refused
//     rate_limited
//
// A command refused or expired at 6 to 13 is recorded with its outcome
// (one fsync) and reported accepted, then refused or expired (one that
// runs unrecorded, see 5, is reported refused or expired alone). One that
// passes is recorded (fsync) BEFORE its output is touched, reported
// accepted, its deadline is checked again (an id recorded slowly, or a
// command that waited in the queue, is never applied late: expired), then
// Output.Set: success -> applied (Value: the new value); an error ->
// failed hardware (Detail: the error), then the actuator's safe state is
// tried (a holding actuator is set back to the value it held). The outcome
// is written in the id's record (fsync), then reported.
//
// # The ledger: at most once per id
//
// <StateDir>/<Device>.commands holds one fixed-size, CRC'd record per id
// (see ledger.go). Ids are forgotten once their deadline has passed (a
// later copy is expired anyway), only while the clock is trusted, and the
// file is compacted (rewritten, fsync, rename) when it holds many more
// records than live ids; at most Options.MaxIDs live ids (default 10,000)
// bound it, beyond which commands are refused busy (but those setting off
// or safe values, see 5). A command accepted and
// never finished (a crash, a power loss) is reported refused interrupted
// at the next start, and recorded so; so are the commands still queued
// when Run returns.
//
// A damaged ledger (a whole record that fails its CRC: a torn page write,
// a failing SD card) has lost ids, which it cannot name. Refusing every
// command for command.MaxLifetime would make the device useless for a day;
// accepting everything could run a redelivered command twice. The
// controller takes the middle course: a lost id belongs to a command
// recorded by the cloud (At) before the damage was found, so commands with
// At before that moment plus a minute (clocks differ) are refused
// interrupted ("send it again"); commands recorded later are checked as
// usual. "That moment" is the first time the clock is trusted after the
// damage was found. The damaged records are kept through compactions, so a
// restart finds the damage again (its window then starts anew, later: on
// the safe side); once command.MaxLifetime plus a minute has passed, every
// command recorded before has expired, and they are dropped. The damage
// is logged at start with how many records were lost. A part of
// a record at the end of the file is an append cut by a crash: that
// command was never applied, and it is ignored.
//
// # Timers and safe states
//
// On Run's start every actuator goes to its safe state (Spec.Safe), or
// keeps its value (Spec.Hold), and the log says so. An actuator on (above
// 0) for MaxOn in one go is switched off by itself (logged; a failed
// switch-off is retried every 5 s). Once the uplink has been down
// (SetUplink(false)) for Config.SafeAfter, every actuator goes to its safe
// state (holding ones keep their value), once per outage: commands given
// during the outage (locally) stay. Each of these shows in the actuator's
// state readings (Sensors) and in tributary_edge_actuator_safe_state_total.
// Timers go by Options.Now and Options.NewTimer, which tests replace with
// actuatetest.Clock.
//
// # Metrics
//
//	tributary_edge_commands_total{outcome,reason}        commands decided (repeats not counted)
//	tributary_edge_actuator_value{actuator}              each actuator's value
//	tributary_edge_actuator_safe_state_total{actuator,cause}  cause: boot, uplink_lost, hardware
package actuate
