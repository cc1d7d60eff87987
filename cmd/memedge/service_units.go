package main

import (
	"fmt"
	"html"
	"strings"
)

// The names the edge is installed under, per service manager.
const (
	systemdUnitName = "memedge.service"
	launchdLabel    = "dev.memproxy.memedge"
	windowsTaskName = "memedge"
)

// systemdUnit is the systemd user unit that runs `memedge run` at login
// and restarts it if it fails.
func systemdUnit(exe, home string) string {
	return fmt.Sprintf(`[Unit]
Description=memproxy edge: a local port per project, tunnelled to the gateway
Documentation=https://github.com/memproxy/memproxy/blob/main/docs/deployment.md
After=network-online.target

[Service]
Type=simple
ExecStart=%s run
Environment=%s
Restart=on-failure
RestartSec=2

[Install]
WantedBy=default.target
`, systemdQuote(exe), systemdQuote("MEMPROXY_HOME="+home))
}

// systemdQuote quotes a word for a unit file (systemd.syntax(7)): double
// quotes, with backslash, quote, and the specifier and variable signs
// escaped.
func systemdQuote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, `%`, `%%`, `$`, `$$`)
	return `"` + r.Replace(s) + `"`
}

// launchdPlist is the launchd agent that runs `memedge run` at login and
// again if it exits with an error.
func launchdPlist(exe, home, logPath string) string {
	x := html.EscapeString
	return fmt.Sprintf(`<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
	<key>Label</key>
	<string>%s</string>
	<key>ProgramArguments</key>
	<array>
		<string>%s</string>
		<string>run</string>
	</array>
	<key>EnvironmentVariables</key>
	<dict>
		<key>MEMPROXY_HOME</key>
		<string>%s</string>
	</dict>
	<key>RunAtLoad</key>
	<true/>
	<key>KeepAlive</key>
	<dict>
		<key>SuccessfulExit</key>
		<false/>
	</dict>
	<key>StandardOutPath</key>
	<string>%s</string>
	<key>StandardErrorPath</key>
	<string>%s</string>
</dict>
</plist>
`, launchdLabel, x(exe), x(home), x(logPath), x(logPath))
}

// schtasksCreate is the schtasks command line that runs `memedge run` at
// the user's logon, with the user's rights only.
func schtasksCreate(exe string) []string {
	return []string{"schtasks", "/Create", "/TN", windowsTaskName, "/TR", `"` + exe + `" run`, "/SC", "ONLOGON", "/RL", "LIMITED", "/F"}
}

func schtasksDelete() []string {
	return []string{"schtasks", "/Delete", "/TN", windowsTaskName, "/F"}
}
