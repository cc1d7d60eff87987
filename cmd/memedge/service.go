package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/spf13/cobra"
)

// serviceCmd installs the edge as a login service: a systemd user unit on
// Linux, a launchd agent on macOS, a scheduled task on Windows.
func serviceCmd() *cobra.Command {
	var printOnly bool
	c := &cobra.Command{
		Use:   "service install|uninstall [--print]",
		Short: "run the edge at login (systemd user unit, launchd agent, Windows scheduled task)",
		Long: `Install (or remove) a login service that runs 'memedge run' in the
background for this user, restarted if it fails:

  Linux    ~/.config/systemd/user/memedge.service, enabled and started with
           systemctl --user (loginctl enable-linger USER keeps it running
           without a session)
  macOS    ~/Library/LaunchAgents/dev.memproxy.memedge.plist, loaded with launchctl
  Windows  the scheduled task "memedge", at logon (schtasks)

It runs this memedge binary with this MEMPROXY_HOME. --print shows what
would be written and run, and changes nothing.`,
		Example:   "  memedge service install\n  memedge service install --print\n  memedge service uninstall",
		Args:      cobra.ExactArgs(1),
		ValidArgs: []string{"install", "uninstall"},
		RunE: func(cmd *cobra.Command, args []string) error {
			if args[0] != "install" && args[0] != "uninstall" {
				return fmt.Errorf("service %q: use install or uninstall", args[0])
			}
			exe, err := os.Executable()
			if err != nil {
				return err
			}
			if exe, err = filepath.EvalSymlinks(exe); err != nil {
				return err
			}
			h, err := home()
			if err != nil {
				return err
			}
			s := serviceSetup{out: cmd.OutOrStdout(), print: printOnly, exe: exe, home: h, install: args[0] == "install"}
			return s.run(runtime.GOOS)
		},
	}
	c.Flags().BoolVar(&printOnly, "print", false, "print the file and the commands, change nothing")
	return c
}

type serviceSetup struct {
	out       io.Writer
	print     bool
	install   bool
	exe, home string
}

func (s serviceSetup) run(goos string) error {
	userHome, err := os.UserHomeDir()
	if err != nil {
		return err
	}
	switch goos {
	case "linux":
		path := filepath.Join(userHome, ".config", "systemd", "user", systemdUnitName)
		if s.install {
			return s.installFile(path, systemdUnit(s.exe, s.home),
				[]string{"systemctl", "--user", "daemon-reload"}, []string{"systemctl", "--user", "enable", "--now", systemdUnitName})
		}
		return s.removeFile(path, []string{"systemctl", "--user", "disable", "--now", systemdUnitName},
			[]string{"systemctl", "--user", "daemon-reload"})
	case "darwin":
		path := filepath.Join(userHome, "Library", "LaunchAgents", launchdLabel+".plist")
		domain := fmt.Sprintf("gui/%d", os.Getuid())
		if s.install {
			return s.installFile(path, launchdPlist(s.exe, s.home, filepath.Join(s.home, "memedge.log")),
				[]string{"launchctl", "bootstrap", domain, path})
		}
		return s.removeFile(path, []string{"launchctl", "bootout", domain + "/" + launchdLabel})
	case "windows":
		if s.install {
			return s.commands(schtasksCreate(s.exe))
		}
		return s.commands(schtasksDelete())
	default:
		return fmt.Errorf("no login service for %s: run 'memedge run' from your own init system", goos)
	}
}

// installFile writes the service file, then runs cmds.
func (s serviceSetup) installFile(path, content string, cmds ...[]string) error {
	if s.print {
		fmt.Fprintf(s.out, "# %s\n%s\n", path, content)
		return s.commands(cmds...)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	if err := writeAtomic(path, []byte(content), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(s.out, "wrote %s\n", path)
	return s.commands(cmds...)
}

// removeFile runs cmds (stopping the service), then deletes its file.
func (s serviceSetup) removeFile(path string, cmds ...[]string) error {
	if err := s.commands(cmds[:1]...); err != nil && !s.print {
		fmt.Fprintf(s.out, "note: %v (continuing)\n", err)
	}
	if s.print {
		fmt.Fprintf(s.out, "rm %s\n", path)
		return s.commands(cmds[1:]...)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	fmt.Fprintf(s.out, "removed %s\n", path)
	return s.commands(cmds[1:]...)
}

// commands runs each command, or prints it with --print or when its
// program is not installed.
func (s serviceSetup) commands(cmds ...[]string) error {
	for _, c := range cmds {
		line := strings.Join(c, " ")
		if _, err := exec.LookPath(c[0]); s.print || err != nil {
			if !s.print {
				fmt.Fprintf(s.out, "%s is not installed here; run yourself: %s\n", c[0], line)
			} else {
				fmt.Fprintln(s.out, line)
			}
			continue
		}
		out, err := exec.Command(c[0], c[1:]...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("%s: %v: %s", line, err, strings.TrimSpace(string(out)))
		}
		fmt.Fprintf(s.out, "ran %s\n", line)
	}
	return nil
}
