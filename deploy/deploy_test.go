// Package deploy holds no code: its tests check the deployment files beside
// them (nginx, systemd, Kubernetes, Grafana) against the values the gateway
// really uses — its defaults, the example configuration, the metrics it
// registers. e2e/deploy_test.go runs nginx and systemd-analyze on them.
package deploy

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"gopkg.in/yaml.v3"

	"github.com/voicegate/voicegate/configs"
	"github.com/voicegate/voicegate/gateway"
	"github.com/voicegate/voicegate/pipeline"
)

// httpShutdown is what app.Run gives the HTTP servers after the drain
// (app/run.go): a process stops within drain_timeout + httpShutdown.
const httpShutdown = 2 * time.Second

// configsUnderTest are the configurations whose timings the deployment
// files must fit: the built-in defaults and the annotated example.
func configsUnderTest(t *testing.T) map[string]configs.Config {
	t.Helper()
	example, err := configs.Load(filepath.Join("..", "configs", "voicegate.example.yaml"), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	return map[string]configs.Config{"defaults": configs.Default(), "voicegate.example.yaml": example}
}

func noEnv(string) string { return "" }

// ---- systemd ----

// unitFile is a parsed systemd unit: section → key → values, in order
// (a key may repeat).
type unitFile map[string]map[string][]string

func parseUnit(r io.Reader) (unitFile, error) {
	u := unitFile{}
	var section string
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || line[0] == '#' || line[0] == ';':
		case line[0] == '[' && line[len(line)-1] == ']':
			section = line[1 : len(line)-1]
			u[section] = map[string][]string{}
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok || section == "" {
				return nil, fmt.Errorf("line %d: %q is neither a section nor key=value", n, line)
			}
			k = strings.TrimSpace(k)
			u[section][k] = append(u[section][k], strings.TrimSpace(v))
		}
	}
	return u, sc.Err()
}

// last returns the value that counts for a key (the last one given).
func (u unitFile) last(section, key string) string {
	vs := u[section][key]
	if len(vs) == 0 {
		return ""
	}
	return vs[len(vs)-1]
}

// systemdDuration parses a systemd time span: "30", "30s", "1min 30s", "2m".
func systemdDuration(s string) (time.Duration, error) {
	units := map[string]time.Duration{
		"": time.Second, "s": time.Second, "sec": time.Second, "second": time.Second, "seconds": time.Second,
		"ms": time.Millisecond, "msec": time.Millisecond,
		"m": time.Minute, "min": time.Minute, "minute": time.Minute, "minutes": time.Minute,
		"h": time.Hour, "hr": time.Hour, "hour": time.Hour, "hours": time.Hour,
	}
	re := regexp.MustCompile(`^\s*(\d+)\s*([a-z]*)`)
	var total time.Duration
	rest := strings.TrimSpace(s)
	if rest == "" {
		return 0, errors.New("empty time span")
	}
	for rest != "" {
		m := re.FindStringSubmatch(rest)
		if m == nil {
			return 0, fmt.Errorf("time span %q: cannot read %q", s, rest)
		}
		unit, ok := units[m[2]]
		if !ok {
			return 0, fmt.Errorf("time span %q: unknown unit %q", s, m[2])
		}
		n, _ := strconv.Atoi(m[1])
		total += time.Duration(n) * unit
		rest = strings.TrimSpace(rest[len(m[0]):])
	}
	return total, nil
}

func TestSystemdDuration(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
		bad  bool
	}{
		{in: "30", want: 30 * time.Second},
		{in: "30s", want: 30 * time.Second},
		{in: "1min 30s", want: 90 * time.Second},
		{in: "2m", want: 2 * time.Minute},
		{in: "500ms", want: 500 * time.Millisecond},
		{in: "", bad: true},
		{in: "10 parsecs", bad: true},
	} {
		got, err := systemdDuration(tc.in)
		if (err != nil) != tc.bad || got != tc.want {
			t.Errorf("systemdDuration(%q) = %v, %v; want %v (error: %v)", tc.in, got, err, tc.want, tc.bad)
		}
	}
}

// TestSystemdUnit: the unit stops the gateway the way it drains — SIGTERM
// to the main process only, SIGKILL only after the drain and the HTTP
// shutdown could have finished — restarts it on failure, and confines it.
func TestSystemdUnit(t *testing.T) {
	f, err := os.Open(filepath.Join("systemd", "voicegate.service"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	u, err := parseUnit(f)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{
		"KillSignal":              {"SIGTERM"},
		"KillMode":                {"mixed"}, // a second SIGTERM to the main process would cut the drain short
		"Restart":                 {"on-failure", "always"},
		"NoNewPrivileges":         {"yes", "true"},
		"ProtectSystem":           {"strict", "full"},
		"ProtectHome":             {"yes", "true", "read-only"},
		"PrivateTmp":              {"yes", "true"},
		"RestrictAddressFamilies": {"AF_INET AF_INET6 AF_UNIX"},
		"CapabilityBoundingSet":   {""},
		"StateDirectory":          {"voicegate"},
	}
	for key, allowed := range want {
		if _, set := u["Service"][key]; !set {
			t.Errorf("[Service] %s is not set (want one of %q)", key, allowed)
			continue
		}
		if got := u.last("Service", key); !slices.Contains(allowed, got) {
			t.Errorf("[Service] %s=%q, want one of %q", key, got, allowed)
		}
	}
	if u.last("Service", "User") == "" || u.last("Service", "User") == "root" {
		t.Errorf("[Service] User=%q: run as an unprivileged user", u.last("Service", "User"))
	}
	if !strings.Contains(u.last("Service", "ExecStart"), "-config /etc/voicegate/voicegate.yaml") {
		t.Errorf("ExecStart=%q does not read /etc/voicegate/voicegate.yaml", u.last("Service", "ExecStart"))
	}
	if u.last("Install", "WantedBy") != "multi-user.target" {
		t.Errorf("[Install] WantedBy=%q", u.last("Install", "WantedBy"))
	}
	stop, err := systemdDuration(u.last("Service", "TimeoutStopSec"))
	if err != nil {
		t.Fatalf("TimeoutStopSec: %v", err)
	}
	for name, cfg := range configsUnderTest(t) {
		if need := cfg.Server.DrainTimeout + httpShutdown; stop <= need {
			t.Errorf("TimeoutStopSec %v is not above drain_timeout %v + HTTP shutdown %v (%s)", stop, cfg.Server.DrainTimeout, httpShutdown, name)
		}
	}
}

// ---- nginx ----

// nginxDirectives returns the simple directives of an nginx configuration
// and the heads of its blocks (map, upstream, server, location...), each as
// name → argument lists, in order.
func nginxDirectives(conf string) (dirs, blocks map[string][][]string, err error) {
	var toks []string
	for _, line := range strings.Split(conf, "\n") {
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		line = strings.NewReplacer("{", " { ", "}", " } ", ";", " ; ").Replace(line)
		toks = append(toks, strings.Fields(line)...)
	}
	dirs, blocks = map[string][][]string{}, map[string][][]string{}
	var cur []string
	depth := 0
	for _, tok := range toks {
		switch tok {
		case ";":
			if len(cur) > 0 {
				dirs[cur[0]] = append(dirs[cur[0]], cur[1:])
			}
			cur = nil
		case "{":
			if len(cur) > 0 {
				blocks[cur[0]] = append(blocks[cur[0]], cur[1:])
			}
			cur = nil
			depth++
		case "}":
			if len(cur) > 0 {
				return nil, nil, fmt.Errorf("directive %q has no ';'", strings.Join(cur, " "))
			}
			depth--
		default:
			cur = append(cur, strings.Trim(tok, `'"`))
		}
	}
	if depth != 0 || len(cur) > 0 {
		return nil, nil, errors.New("unbalanced braces or a directive without ';' at the end")
	}
	return dirs, blocks, nil
}

// nginxDuration parses an nginx time: "75s", "1m", "500ms", "75".
func nginxDuration(s string) (time.Duration, error) {
	if n, err := strconv.Atoi(s); err == nil {
		return time.Duration(n) * time.Second, nil
	}
	return time.ParseDuration(s)
}

// TestNginxConfig: the proxy upgrades WebSockets, keeps an idle one open
// longer than the gateway's heartbeat would, hands the client's address
// on, retries a new connection that meets a draining node, and passes
// /readyz through.
func TestNginxConfig(t *testing.T) {
	conf, err := os.ReadFile(filepath.Join("nginx", "voicegate.conf"))
	if err != nil {
		t.Fatal(err)
	}
	dirs, blocks, err := nginxDirectives(string(conf))
	if err != nil {
		t.Fatal(err)
	}
	one := func(name string) []string {
		t.Helper()
		if len(dirs[name]) != 1 {
			t.Fatalf("%s is given %d times, want once", name, len(dirs[name]))
		}
		return dirs[name][0]
	}
	if v := one("proxy_http_version"); v[0] != "1.1" {
		t.Errorf("proxy_http_version %v: WebSockets need 1.1", v)
	}
	headers := map[string]string{}
	for _, args := range dirs["proxy_set_header"] {
		if len(args) != 2 {
			t.Fatalf("proxy_set_header %q", args)
		}
		headers[args[0]] = args[1]
	}
	for h, want := range map[string]string{
		"Upgrade": "$http_upgrade", "X-Forwarded-For": "$proxy_add_x_forwarded_for", "Host": "$host", "X-Forwarded-Proto": "$scheme",
	} {
		if headers[h] != want {
			t.Errorf("proxy_set_header %s %q, want %q", h, headers[h], want)
		}
	}
	if c := headers["Connection"]; !strings.HasPrefix(c, "$") || len(blocks["map"]) != 1 || blocks["map"][0][0] != "$http_upgrade" || blocks["map"][0][1] != c {
		t.Errorf("Connection %q is not the map of $http_upgrade (map %q)", c, blocks["map"])
	}
	for _, name := range []string{"proxy_read_timeout", "proxy_send_timeout"} {
		d, err := nginxDuration(one(name)[0])
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for cfgName, cfg := range configsUnderTest(t) {
			if d <= cfg.Server.HeartbeatTimeout {
				t.Errorf("%s %v is not above heartbeat_timeout %v (%s): nginx would close idle WebSockets the gateway still holds", name, d, cfg.Server.HeartbeatTimeout, cfgName)
			}
		}
	}
	if next := one("proxy_next_upstream"); !slices.Contains(next, "http_503") || !slices.Contains(next, "error") {
		t.Errorf("proxy_next_upstream %v: a draining node's 503 and a dead node's connect error should send the client to the next", next)
	}
	if v := one("proxy_buffering"); v[0] != "off" {
		t.Errorf("proxy_buffering %v", v)
	}
	if !slices.ContainsFunc(blocks["location"], func(l []string) bool { return slices.Equal(l, []string{"=", gateway.PathReadyz}) }) {
		t.Errorf("no location = %s among %q", gateway.PathReadyz, blocks["location"])
	}
	var upstreams int
	for _, args := range dirs["server"] {
		if _, port, err := net.SplitHostPort(args[0]); err == nil && port == "8080" {
			upstreams++
		}
	}
	if upstreams < 2 {
		t.Errorf("%d upstream servers on the gateway's port 8080, want several", upstreams)
	}
	if len(dirs["least_conn"]) != 1 {
		t.Error("no least_conn: long-lived WebSockets would pile up on the nodes that started first")
	}
}

// ---- Kubernetes ----

type k8sObject struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Metadata   struct {
		Name   string            `yaml:"name"`
		Labels map[string]string `yaml:"labels"`
	} `yaml:"metadata"`
	Data       map[string]string `yaml:"data"`
	StringData map[string]string `yaml:"stringData"`
	Spec       k8sSpec           `yaml:"spec"`
	Resources  []string          `yaml:"resources"` // a Kustomization's
}

type k8sSpec struct {
	Replicas *int `yaml:"replicas"`
	Selector struct {
		MatchLabels map[string]string `yaml:"matchLabels"`
	} `yaml:"selector"`
	ServiceSelector map[string]string `yaml:"-"`
	Template        struct {
		Metadata struct {
			Labels      map[string]string `yaml:"labels"`
			Annotations map[string]string `yaml:"annotations"`
		} `yaml:"metadata"`
		Spec podSpec `yaml:"spec"`
	} `yaml:"template"`
	Ports []struct {
		Name       string `yaml:"name"`
		Port       int    `yaml:"port"`
		TargetPort string `yaml:"targetPort"`
	} `yaml:"ports"`
	Strategy struct {
		RollingUpdate struct {
			MaxUnavailable any `yaml:"maxUnavailable"`
		} `yaml:"rollingUpdate"`
	} `yaml:"strategy"`
	Rules []struct {
		HTTP struct {
			Paths []struct {
				Backend struct {
					Service struct {
						Name string `yaml:"name"`
						Port struct {
							Name string `yaml:"name"`
						} `yaml:"port"`
					} `yaml:"service"`
				} `yaml:"backend"`
			} `yaml:"paths"`
		} `yaml:"http"`
	} `yaml:"rules"`
}

// UnmarshalYAML reads a Service's selector (a plain map) beside a
// Deployment's (matchLabels).
func (s *k8sSpec) UnmarshalYAML(n *yaml.Node) error {
	type plain k8sSpec
	if err := n.Decode((*plain)(s)); err != nil {
		return err
	}
	var raw struct {
		Selector map[string]any `yaml:"selector"`
	}
	if err := n.Decode(&raw); err != nil {
		return err
	}
	if _, nested := raw.Selector["matchLabels"]; !nested && raw.Selector != nil {
		s.ServiceSelector = map[string]string{}
		for k, v := range raw.Selector {
			s.ServiceSelector[k] = fmt.Sprint(v)
		}
	}
	return nil
}

type podSpec struct {
	TerminationGracePeriodSeconds *int        `yaml:"terminationGracePeriodSeconds"`
	Containers                    []container `yaml:"containers"`
	Volumes                       []struct {
		Name      string `yaml:"name"`
		ConfigMap *struct {
			Name string `yaml:"name"`
		} `yaml:"configMap"`
	} `yaml:"volumes"`
}

type container struct {
	Name  string   `yaml:"name"`
	Image string   `yaml:"image"`
	Args  []string `yaml:"args"`
	Ports []struct {
		Name          string `yaml:"name"`
		ContainerPort int    `yaml:"containerPort"`
	} `yaml:"ports"`
	EnvFrom []struct {
		SecretRef *struct {
			Name string `yaml:"name"`
		} `yaml:"secretRef"`
	} `yaml:"envFrom"`
	ReadinessProbe *probe `yaml:"readinessProbe"`
	LivenessProbe  *probe `yaml:"livenessProbe"`
	Lifecycle      struct {
		PreStop *struct {
			Sleep *struct {
				Seconds int `yaml:"seconds"`
			} `yaml:"sleep"`
			Exec *struct {
				Command []string `yaml:"command"`
			} `yaml:"exec"`
		} `yaml:"preStop"`
	} `yaml:"lifecycle"`
	Resources struct {
		Requests map[string]string `yaml:"requests"`
		Limits   map[string]string `yaml:"limits"`
	} `yaml:"resources"`
	VolumeMounts []struct {
		Name      string `yaml:"name"`
		MountPath string `yaml:"mountPath"`
	} `yaml:"volumeMounts"`
}

type probe struct {
	HTTPGet *struct {
		Path string `yaml:"path"`
		Port string `yaml:"port"`
	} `yaml:"httpGet"`
	Exec *struct {
		Command []string `yaml:"command"`
	} `yaml:"exec"`
}

// loadManifests decodes every document of every YAML file in dir, by
// file name.
func loadManifests(t *testing.T, dir string) map[string][]k8sObject {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests in %s (%v)", dir, err)
	}
	out := map[string][]k8sObject{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(b))
		for {
			var o k8sObject
			err := dec.Decode(&o)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			if o.Kind == "" || o.APIVersion == "" {
				t.Fatalf("%s: a document without kind or apiVersion", f)
			}
			out[filepath.Base(f)] = append(out[filepath.Base(f)], o)
		}
	}
	return out
}

// find returns the one object of kind and name, failing the test if there
// is none or more.
func find(t *testing.T, all map[string][]k8sObject, kind, name string) k8sObject {
	t.Helper()
	var got []k8sObject
	for _, objs := range all {
		for _, o := range objs {
			if o.Kind == kind && o.Metadata.Name == name {
				got = append(got, o)
			}
		}
	}
	if len(got) != 1 {
		t.Fatalf("%d %s objects named %q, want 1", len(got), kind, name)
	}
	return got[0]
}

func portOf(t *testing.T, addr string) int {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("address %q: %v", addr, err)
	}
	n, err := strconv.Atoi(p)
	if err != nil {
		t.Fatalf("address %q: %v", addr, err)
	}
	return n
}

// TestKubernetes: the Deployment's probes, ports, stop timing and
// resources fit the configuration it mounts (loaded as voicegate loads
// it), and Service, Ingress, Secret, Redis and the Kustomization agree
// with it.
func TestKubernetes(t *testing.T) {
	all := loadManifests(t, "k8s")

	cm := find(t, all, "ConfigMap", "voicegate")
	cfgPath := filepath.Join(t.TempDir(), "voicegate.yaml")
	if err := os.WriteFile(cfgPath, []byte(cm.Data["voicegate.yaml"]), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := configs.Load(cfgPath, noEnv)
	if err != nil {
		t.Fatalf("the ConfigMap's voicegate.yaml does not load: %v", err)
	}

	dep := find(t, all, "Deployment", "voicegate")
	pod := dep.Spec.Template.Spec
	if len(pod.Containers) != 1 {
		t.Fatalf("%d containers, want 1", len(pod.Containers))
	}
	c := pod.Containers[0]
	ports := map[string]int{}
	for _, p := range c.Ports {
		ports[p.Name] = p.ContainerPort
	}
	if ports["http"] != portOf(t, cfg.Server.Addr) {
		t.Errorf("container port http %d, server.addr %s", ports["http"], cfg.Server.Addr)
	}
	if ports["admin"] != portOf(t, cfg.Server.AdminAddr) {
		t.Errorf("container port admin %d, server.admin_addr %s", ports["admin"], cfg.Server.AdminAddr)
	}
	ann := dep.Spec.Template.Metadata.Annotations
	if ann["prometheus.io/port"] != strconv.Itoa(ports["admin"]) || ann["prometheus.io/path"] != gateway.PathMetrics {
		t.Errorf("Prometheus annotations %v do not point at the admin listener's %s", ann, gateway.PathMetrics)
	}

	for _, pr := range []struct {
		name string
		p    *probe
		path string
	}{{"readinessProbe", c.ReadinessProbe, gateway.PathReadyz}, {"livenessProbe", c.LivenessProbe, gateway.PathHealthz}} {
		if pr.p == nil || pr.p.HTTPGet == nil {
			t.Errorf("no %s.httpGet", pr.name)
			continue
		}
		if pr.p.HTTPGet.Path != pr.path || ports[pr.p.HTTPGet.Port] != ports["http"] {
			t.Errorf("%s GET %s on port %q, want %s on the public port", pr.name, pr.p.HTTPGet.Path, pr.p.HTTPGet.Port, pr.path)
		}
	}

	pre := c.Lifecycle.PreStop
	if pre == nil || (pre.Sleep == nil && pre.Exec == nil) {
		t.Fatal("no preStop hook: SIGTERM would race the endpoints' removal")
	}
	var preStop time.Duration
	if pre.Sleep != nil {
		preStop = time.Duration(pre.Sleep.Seconds) * time.Second
	} else if len(pre.Exec.Command) == 2 && pre.Exec.Command[0] == "sleep" {
		n, err := strconv.Atoi(pre.Exec.Command[1])
		if err != nil {
			t.Fatalf("preStop %q", pre.Exec.Command)
		}
		preStop = time.Duration(n) * time.Second
	}
	if preStop <= 0 {
		t.Errorf("preStop waits %v", preStop)
	}
	if pod.TerminationGracePeriodSeconds == nil {
		t.Fatal("no terminationGracePeriodSeconds (the default, 30s, would be chosen by accident)")
	}
	grace := time.Duration(*pod.TerminationGracePeriodSeconds) * time.Second
	if need := preStop + cfg.Server.DrainTimeout + httpShutdown; grace <= need {
		t.Errorf("terminationGracePeriodSeconds %v is not above preStop %v + drain_timeout %v + HTTP shutdown %v", grace, preStop, cfg.Server.DrainTimeout, httpShutdown)
	}
	if cfg.Server.DrainTimeout <= 0 {
		t.Errorf("drain_timeout %v", cfg.Server.DrainTimeout)
	}

	for _, k := range []string{"cpu", "memory"} {
		if c.Resources.Requests[k] == "" {
			t.Errorf("resources.requests.%s is not set", k)
		}
	}
	if c.Resources.Limits["memory"] == "" {
		t.Error("resources.limits.memory is not set")
	}

	// The config file is where the ConfigMap is mounted.
	if i := slices.Index(c.Args, "-config"); i < 0 || i+1 >= len(c.Args) {
		t.Errorf("args %q do not name -config", c.Args)
	} else {
		dir, file := filepath.Split(c.Args[i+1])
		mounted := false
		for _, m := range c.VolumeMounts {
			for _, v := range pod.Volumes {
				if v.Name == m.Name && v.ConfigMap != nil && v.ConfigMap.Name == cm.Metadata.Name && filepath.Clean(m.MountPath) == filepath.Clean(dir) {
					_, mounted = cm.Data[file]
				}
			}
		}
		if !mounted {
			t.Errorf("-config %s is not the ConfigMap %s mounted", c.Args[i+1], cm.Metadata.Name)
		}
	}

	// Beyond loopback without allow_unauthenticated, the gateway needs API
	// keys: the Secret it reads them from must hold VOICEGATE_API_KEYS.
	if !cfg.Server.AllowUnauthenticated {
		var secretName string
		for _, e := range c.EnvFrom {
			if e.SecretRef != nil {
				secretName = e.SecretRef.Name
			}
		}
		sec := find(t, all, "Secret", secretName)
		if _, ok := sec.StringData["VOICEGATE_API_KEYS"]; !ok {
			t.Errorf("Secret %s has no VOICEGATE_API_KEYS", secretName)
		}
	}

	if mu := fmt.Sprint(dep.Spec.Strategy.RollingUpdate.MaxUnavailable); mu != "0" {
		t.Errorf("rollingUpdate.maxUnavailable %s: a rollout would drain a pod before its replacement is ready", mu)
	}
	if !mapsSubset(dep.Spec.Selector.MatchLabels, dep.Spec.Template.Metadata.Labels) {
		t.Errorf("selector %v does not select the pod labels %v", dep.Spec.Selector.MatchLabels, dep.Spec.Template.Metadata.Labels)
	}

	svc := find(t, all, "Service", "voicegate")
	if len(svc.Spec.ServiceSelector) == 0 || !mapsSubset(svc.Spec.ServiceSelector, dep.Spec.Template.Metadata.Labels) {
		t.Errorf("Service selector %v does not select the gateway's pods", svc.Spec.ServiceSelector)
	}
	if len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].TargetPort != "http" {
		t.Errorf("Service ports %+v: only the public port, never the admin one", svc.Spec.Ports)
	}
	ing := find(t, all, "Ingress", "voicegate")
	for _, r := range ing.Spec.Rules {
		for _, p := range r.HTTP.Paths {
			if p.Backend.Service.Name != svc.Metadata.Name || p.Backend.Service.Port.Name != svc.Spec.Ports[0].Name {
				t.Errorf("Ingress backend %+v is not the Service's public port", p.Backend.Service)
			}
		}
	}
	ingAnn := ingressAnnotations(t)
	for _, k := range []string{"nginx.ingress.kubernetes.io/proxy-read-timeout", "nginx.ingress.kubernetes.io/proxy-send-timeout"} {
		n, err := strconv.Atoi(ingAnn[k])
		if err != nil {
			t.Fatalf("%s %q: %v", k, ingAnn[k], err)
		}
		if time.Duration(n)*time.Second <= cfg.Server.HeartbeatTimeout {
			t.Errorf("%s %ds is not above heartbeat_timeout %v", k, n, cfg.Server.HeartbeatTimeout)
		}
	}

	// Redis: a Deployment and the Service its clients reach.
	redis := find(t, all, "Deployment", "voicegate-redis")
	rsvc := find(t, all, "Service", "voicegate-redis")
	if !mapsSubset(rsvc.Spec.ServiceSelector, redis.Spec.Template.Metadata.Labels) || len(rsvc.Spec.ServiceSelector) == 0 {
		t.Errorf("Service voicegate-redis selector %v does not select Redis's pods %v", rsvc.Spec.ServiceSelector, redis.Spec.Template.Metadata.Labels)
	}
	if len(rsvc.Spec.Ports) != 1 || rsvc.Spec.Ports[0].Port != 6379 {
		t.Errorf("Service voicegate-redis ports %+v", rsvc.Spec.Ports)
	}
	if !strings.Contains(cm.Data["voicegate.yaml"], "redis://"+rsvc.Metadata.Name+":6379") {
		t.Errorf("the ConfigMap does not name the Redis Service %s", rsvc.Metadata.Name)
	}

	// The Kustomization applies every manifest but the Secret's example.
	kust := find(t, all, "Kustomization", "")
	var want []string
	for f := range all {
		if f != "kustomization.yaml" && f != "secret.example.yaml" {
			want = append(want, f)
		}
	}
	slices.Sort(want)
	got := slices.Sorted(slices.Values(kust.Resources))
	if !slices.Equal(got, want) {
		t.Errorf("kustomization resources %q, want %q", got, want)
	}
}

// ingressAnnotations reads the Ingress's annotations, which k8sObject
// leaves out.
func ingressAnnotations(t *testing.T) map[string]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("k8s", "ingress.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var ing struct {
		Metadata struct {
			Annotations map[string]string `yaml:"annotations"`
		} `yaml:"metadata"`
	}
	if err := yaml.Unmarshal(b, &ing); err != nil {
		t.Fatal(err)
	}
	return ing.Metadata.Annotations
}

func mapsSubset(sub, of map[string]string) bool {
	for k, v := range sub {
		if of[k] != v {
			return false
		}
	}
	return true
}

// ---- Grafana ----

var (
	promStrings  = regexp.MustCompile("\"(?:[^\"\\\\]|\\\\.)*\"|'(?:[^'\\\\]|\\\\.)*'|`[^`]*`")
	promMatchers = regexp.MustCompile(`\{[^}]*\}|\[[^\]]*\]`)
	promGrouping = regexp.MustCompile(`\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)`)
	promVars     = regexp.MustCompile(`\$\{?\w+\}?`)
	promIdent    = regexp.MustCompile(`[A-Za-z_:][A-Za-z0-9_:]*`)
	promKeywords = map[string]bool{
		"and": true, "or": true, "unless": true, "bool": true, "offset": true, "by": true, "without": true,
		"on": true, "ignoring": true, "group_left": true, "group_right": true, "inf": true, "nan": true, "atan2": true,
	}
)

// metricNames returns the metric names a PromQL expression selects: the
// identifiers left once strings, label matchers, ranges, grouping labels
// and Grafana variables are removed, that are neither functions (followed
// by "("), keywords nor parts of numbers.
func metricNames(expr string) []string {
	s := promStrings.ReplaceAllString(expr, `""`)
	s = promMatchers.ReplaceAllString(s, " ")
	s = promGrouping.ReplaceAllString(s, " ")
	s = promVars.ReplaceAllString(s, " ")
	var out []string
	for _, loc := range promIdent.FindAllStringIndex(s, -1) {
		name := s[loc[0]:loc[1]]
		if loc[0] > 0 && (s[loc[0]-1] >= '0' && s[loc[0]-1] <= '9' || s[loc[0]-1] == '.') {
			continue // the exponent or unit of a number
		}
		if strings.HasPrefix(strings.TrimLeft(s[loc[1]:], " \t\n"), "(") || promKeywords[strings.ToLower(name)] {
			continue
		}
		if !slices.Contains(out, name) {
			out = append(out, name)
		}
	}
	return out
}

func TestMetricNames(t *testing.T) {
	for _, tc := range []struct {
		expr string
		want []string
	}{
		{`voicegate_sessions_active`, []string{"voicegate_sessions_active"}},
		{`sum by (instance) (voicegate_sessions_active{job=~"$job"})`, []string{"voicegate_sessions_active"}},
		{`histogram_quantile(0.99, sum by (le) (rate(x_bucket{stage="first_audio_sent", a!="b{c}"}[$__rate_interval])))`, []string{"x_bucket"}},
		{`sum(rate(a_total[5m])) / sum(rate(b_total[5m])) * 1e3`, []string{"a_total", "b_total"}},
		{`a / on(instance) group_left(job) b offset 5m`, []string{"a", "b"}},
		{`process_resident_memory_bytes / clamp_min(voicegate_sessions_active, 1)`, []string{"process_resident_memory_bytes", "voicegate_sessions_active"}},
		{`sum(rate(voicegate_no_such_metric_total[1m])) > bool 0`, []string{"voicegate_no_such_metric_total"}},
		{`vector(1)`, nil},
	} {
		if got := metricNames(tc.expr); !slices.Equal(got, tc.want) {
			t.Errorf("metricNames(%q) = %q, want %q", tc.expr, got, tc.want)
		}
	}
}

// recorder is a Registerer that keeps what is registered on it.
type recorder struct {
	prometheus.Registerer
	collectors []prometheus.Collector
}

func (r *recorder) Register(c prometheus.Collector) error {
	r.collectors = append(r.collectors, c)
	return r.Registerer.Register(c)
}

func (r *recorder) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		if err := r.Register(c); err != nil {
			panic(err)
		}
	}
}

var descName = regexp.MustCompile(`fqName: ("(?:[^"\\]|\\.)*")`)

// exportedSeries returns every series name the gateway binary's /metrics
// can hold, with its labels: the registry app.Run builds (the Go and
// process collectors) with the gateway's metrics on it. Histograms and
// summaries add their _bucket, _sum and _count series. Labelled metrics
// are found whether or not anything has been observed yet.
func exportedSeries(t *testing.T) map[string]bool {
	t.Helper()
	reg := prometheus.NewRegistry()
	// As app/run.go registers them.
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	rec := &recorder{Registerer: reg}
	gw, err := gateway.New(gateway.Options{Registry: rec, Stages: pipeline.Stages{LLM: pipeline.GeneratorFunc(
		func(context.Context, []pipeline.Message, func(string) error) error { return nil })}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	t.Cleanup(func() { _ = gw.Shutdown(ctx) })

	series := map[string]bool{}
	// typ is the exposition type's name, as client_model spells it.
	add := func(name, typ string) {
		series[name] = true
		switch typ {
		case "HISTOGRAM", "GAUGE_HISTOGRAM":
			series[name+"_bucket"], series[name+"_sum"], series[name+"_count"] = true, true, true
		case "SUMMARY":
			series[name+"_sum"], series[name+"_count"] = true, true
		}
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		add(f.GetName(), f.GetType().String())
	}
	if len(rec.collectors) == 0 {
		t.Fatal("the gateway registered no metrics")
	}
	for _, c := range rec.collectors {
		// A labelled vector has no series until it is observed, so Gather
		// may not have typed it; an unlabelled metric always has one.
		typ := ""
		switch c.(type) {
		case *prometheus.HistogramVec:
			typ = "HISTOGRAM"
		case *prometheus.SummaryVec:
			typ = "SUMMARY"
		}
		descs := make(chan *prometheus.Desc, 16)
		go func() { c.Describe(descs); close(descs) }()
		n := 0
		for d := range descs {
			m := descName.FindStringSubmatch(d.String())
			if m == nil {
				t.Fatalf("cannot read the name of %s", d)
			}
			name, err := strconv.Unquote(m[1])
			if err != nil {
				t.Fatal(err)
			}
			add(name, typ)
			n++
		}
		if n == 0 {
			t.Fatalf("collector %T describes no metric", c)
		}
	}
	return series
}

// dashboardQueries returns every PromQL query of a Grafana dashboard:
// panel targets (rows' nested panels included) and query variables'
// label_values() selectors, each with where it was found.
func dashboardQueries(t *testing.T, path string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		UID        string          `json:"uid"`
		Title      string          `json:"title"`
		Panels     []dashboardPane `json:"panels"`
		Templating struct {
			List []struct {
				Name  string `json:"name"`
				Type  string `json:"type"`
				Query any    `json:"query"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatal(err)
	}
	if dash.UID == "" || dash.Title == "" {
		t.Errorf("dashboard uid %q, title %q", dash.UID, dash.Title)
	}
	queries := map[string]string{}
	ids := map[int]string{}
	var walk func([]dashboardPane)
	walk = func(ps []dashboardPane) {
		for _, p := range ps {
			if prev, dup := ids[p.ID]; dup {
				t.Errorf("panels %q and %q share id %d", prev, p.Title, p.ID)
			}
			ids[p.ID] = p.Title
			if p.Type == "row" {
				walk(p.Panels)
				continue
			}
			if len(p.Targets) == 0 {
				t.Errorf("panel %q has no query", p.Title)
			}
			for _, tg := range p.Targets {
				if strings.TrimSpace(tg.Expr) == "" {
					t.Errorf("panel %q: target %s has no expr", p.Title, tg.RefID)
				}
				queries[tg.Expr] = fmt.Sprintf("panel %q", p.Title)
			}
		}
	}
	walk(dash.Panels)
	labelValues := regexp.MustCompile(`^label_values\((.+),\s*\w+\)$`)
	for _, v := range dash.Templating.List {
		if v.Type != "query" {
			continue
		}
		q, _ := v.Query.(string)
		if m, ok := v.Query.(map[string]any); ok {
			q, _ = m["query"].(string)
		}
		sel := labelValues.FindStringSubmatch(q)
		if sel == nil {
			t.Errorf("variable %s: query %q is not label_values(selector, label)", v.Name, q)
			continue
		}
		queries[sel[1]] = fmt.Sprintf("variable %s", v.Name)
	}
	return queries
}

type dashboardPane struct {
	ID      int             `json:"id"`
	Type    string          `json:"type"`
	Title   string          `json:"title"`
	Panels  []dashboardPane `json:"panels"`
	Targets []struct {
		RefID string `json:"refId"`
		Expr  string `json:"expr"`
	} `json:"targets"`
}

// TestGrafanaDashboard: every metric a panel or variable of the dashboard
// queries is one the gateway exports.
func TestGrafanaDashboard(t *testing.T) {
	exported := exportedSeries(t)
	for _, must := range []string{"voicegate_sessions_active", "voicegate_turn_latency_seconds_bucket", "process_resident_memory_bytes", "go_goroutines"} {
		if !exported[must] {
			t.Fatalf("the exported series lack %s: the way they are found is broken", must)
		}
	}
	queries := dashboardQueries(t, filepath.Join("grafana", "voicegate.json"))
	if len(queries) < 10 {
		t.Fatalf("%d queries in the dashboard", len(queries))
	}
	used := map[string]bool{}
	for q, where := range queries {
		names := metricNames(q)
		if len(names) == 0 {
			t.Errorf("%s: query %q selects no metric", where, q)
		}
		for _, n := range names {
			used[n] = true
			if !exported[n] {
				t.Errorf("%s: %s is not a metric voicegate exports (query %q)", where, n, q)
			}
		}
	}
	// Every metric of the gateway's own has a panel.
	for n := range exported {
		base := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(n, "_bucket"), "_sum"), "_count")
		if !strings.HasPrefix(n, "voicegate_") || (base != n && exported[base]) {
			continue
		}
		if !used[n] && !used[n+"_bucket"] && !used[n+"_count"] && !used[n+"_sum"] {
			t.Errorf("no panel shows %s", n)
		}
	}
}
