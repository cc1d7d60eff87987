package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// child is a process the bench started: the fake upstream, the gateway or
// the edge. Its stdout and stderr go to DIR/NAME.log.
type child struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	stdin   *os.File // closing it tells the fake upstream to leave
	done    chan struct{}
	waitErr error
}

// startChild starts bin with args (env added to the bench's own) and waits
// until a line of its stdout satisfies ready, returning that line. A child
// that exits or stays silent for timeout is an error.
func startChild(name, logDir, bin string, args, env []string, ready func(string) bool, timeout time.Duration) (*child, string, error) {
	logPath := filepath.Join(logDir, name+".log")
	// O_APPEND: the child's stderr and the stdout copier share the file.
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC|os.O_APPEND, 0o644)
	if err != nil {
		return nil, "", err
	}
	defer logf.Close() // the child holds its own descriptors
	outR, outW, err := os.Pipe()
	if err != nil {
		return nil, "", err
	}
	inR, inW, err := os.Pipe()
	if err != nil {
		return nil, "", err
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = inR, outW, logf
	cmd.SysProcAttr = childAttr()
	err = cmd.Start()
	outW.Close()
	inR.Close()
	if err != nil {
		outR.Close()
		inW.Close()
		return nil, "", fmt.Errorf("starting %s: %w", name, err)
	}
	c := &child{name: name, cmd: cmd, logPath: logPath, stdin: inW, done: make(chan struct{})}
	go func() {
		c.waitErr = cmd.Wait()
		close(c.done)
	}()
	lines := make(chan string, 16)
	go func() { // copy stdout to the log, passing lines on until ready
		defer outR.Close()
		defer close(lines)
		lf, _ := os.OpenFile(logPath, os.O_WRONLY|os.O_APPEND, 0)
		if lf != nil {
			defer lf.Close()
		}
		sc := bufio.NewScanner(outR)
		for sc.Scan() {
			if lf != nil {
				fmt.Fprintln(lf, sc.Text())
			}
			select {
			case lines <- sc.Text():
			default:
			}
		}
	}()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				lines = nil // stdout closed; wait for the exit or the deadline
				continue
			}
			if ready(l) {
				return c, l, nil
			}
		case <-c.done:
			return nil, "", fmt.Errorf("%s exited before it was ready (%v); log:\n%s", name, c.waitErr, c.logTail(20))
		case <-deadline.C:
			c.stop()
			return nil, "", fmt.Errorf("%s not ready after %s; log:\n%s", name, timeout, c.logTail(20))
		}
	}
}

// alive reports whether the child is still running.
func (c *child) alive() bool {
	select {
	case <-c.done:
		return false
	default:
		return true
	}
}

// stop sends SIGTERM, waits up to 10 s, then kills. It returns the exit
// error, nil for a clean exit.
func (c *child) stop() error {
	if c.alive() {
		_ = c.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-c.done:
		case <-time.After(10 * time.Second):
			_ = c.cmd.Process.Kill()
			<-c.done
			return fmt.Errorf("%s ignored SIGTERM for 10 s and was killed", c.name)
		}
	}
	c.stdin.Close()
	return c.waitErr
}

// logTail returns the last n lines of the child's log.
func (c *child) logTail(n int) string {
	b, _ := os.ReadFile(c.logPath)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// logProblems returns the log lines at level WARN or ERROR (slog text or
// JSON) and any Go panic lines.
func (c *child) logProblems() []string {
	b, _ := os.ReadFile(c.logPath)
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, "level=WARN") || strings.Contains(l, "level=ERROR") ||
			strings.Contains(l, `"level":"WARN"`) || strings.Contains(l, `"level":"ERROR"`) ||
			strings.HasPrefix(l, "panic:") || strings.HasPrefix(l, "fatal error:") {
			out = append(out, l)
		}
	}
	return out
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// clockTick is USER_HZ, the unit of utime and stime in /proc/PID/stat (100
// on every Linux architecture Go supports).
const clockTick = 10 * time.Millisecond

// cpuTime returns the user plus system CPU time of all threads of pid,
// from /proc/PID/stat.
func cpuTime(pid int) (time.Duration, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	i := bytes.LastIndexByte(b, ')') // the command name may hold spaces
	if i < 0 {
		return 0, errors.New("unexpected /proc/PID/stat format")
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, errors.New("unexpected /proc/PID/stat format")
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64) // field 14, utime
	st, err2 := strconv.ParseInt(f[12], 10, 64) // field 15, stime
	if err1 != nil || err2 != nil {
		return 0, errors.New("unexpected /proc/PID/stat format")
	}
	return time.Duration(ut+st) * clockTick, nil
}

// statusKB returns the memory lines of /proc/PID/status (VmRSS, VmHWM,
// RssAnon, RssFile, …) in KiB.
func statusKB(pid int) (map[string]int64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return nil, err
	}
	m := map[string]int64{}
	for _, l := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(l, ":")
		if v = strings.TrimSpace(v); ok && strings.HasSuffix(v, " kB") {
			m[k], _ = strconv.ParseInt(strings.TrimSuffix(v, " kB"), 10, 64)
		}
	}
	return m, nil
}

// memKB returns VmRSS and VmHWM (peak RSS) of pid in KiB.
func memKB(pid int) (rss, hwm int64, err error) {
	m, err := statusKB(pid)
	return m["VmRSS"], m["VmHWM"], err
}

// resetPeak sets VmHWM of pid back to its current RSS (writing 5 to
// /proc/PID/clear_refs), so that each run reports its own peak.
func resetPeak(pid int) error {
	return os.WriteFile("/proc/"+strconv.Itoa(pid)+"/clear_refs", []byte("5"), 0)
}

// otherCPU returns the CPU time used so far by every process on the
// machine except those in skip, children it has reaped included (utime,
// stime, cutime and cstime of each /proc/PID/stat). The difference of two
// readings shows how much CPU other work (builds, tests) took during a run;
// a process whose parent also exited in between is missed.
func otherCPU(skip map[int]bool) time.Duration {
	ents, _ := os.ReadDir("/proc")
	var ticks int64
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || skip[pid] {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(b[i+1:]))
		if len(f) < 15 {
			continue
		}
		for _, k := range f[11:15] {
			n, _ := strconv.ParseInt(k, 10, 64)
			ticks += n
		}
	}
	return time.Duration(ticks) * clockTick
}

// cpuPressure returns the total time, since boot, that some runnable task
// waited for a CPU (the "some" line of /proc/pressure/cpu).
func cpuPressure() (time.Duration, error) {
	b, err := os.ReadFile("/proc/pressure/cpu")
	if err != nil {
		return 0, err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	_, v, ok := strings.Cut(line, "total=")
	if !strings.HasPrefix(line, "some ") || !ok {
		return 0, errors.New("unexpected /proc/pressure/cpu format")
	}
	us, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	return time.Duration(us) * time.Microsecond, err
}

// ioCounts are a process's system calls that move data (read-like and
// write-like, /proc/PID/io syscr and syscw: socket and file I/O, not
// futex or epoll) and its threads' context switches (voluntary and not,
// summed over /proc/PID/task/*/status). Unlike CPU time on a shared VM,
// they do not depend on what else the machine is doing, so they show
// what a change did to the work a request causes. ok is false where
// /proc could not be read.
type ioCounts struct {
	syscalls, switches int64
	ok                 bool
}

// readIOCounts reads pid's counters (see ioCounts). Threads that ended
// since the last reading take their switches with them, so a reading
// over a run can miss some; the runtime's threads live as long as the
// process, so in practice none are missed.
func readIOCounts(pid int) ioCounts {
	dir := "/proc/" + strconv.Itoa(pid)
	b, err := os.ReadFile(dir + "/io")
	if err != nil {
		return ioCounts{}
	}
	var c ioCounts
	for line := range strings.Lines(string(b)) {
		k, v, _ := strings.Cut(strings.TrimSpace(line), ":")
		if k == "syscr" || k == "syscw" {
			n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			c.syscalls += n
		}
	}
	tasks, err := os.ReadDir(dir + "/task")
	if err != nil {
		return ioCounts{}
	}
	for _, t := range tasks {
		b, err := os.ReadFile(dir + "/task/" + t.Name() + "/status")
		if err != nil {
			continue // the thread ended meanwhile
		}
		for line := range strings.Lines(string(b)) {
			k, v, _ := strings.Cut(line, ":")
			if k == "voluntary_ctxt_switches" || k == "nonvoluntary_ctxt_switches" {
				n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
				c.switches += n
			}
		}
	}
	c.ok = true
	return c
}

// minus is the counts since before.
func (c ioCounts) minus(before ioCounts) ioCounts {
	return ioCounts{syscalls: c.syscalls - before.syscalls, switches: c.switches - before.switches, ok: c.ok && before.ok}
}
