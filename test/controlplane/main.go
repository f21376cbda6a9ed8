// Command controlplane runs a real kube-apiserver (Kubernetes v1.34) with etcd
// embedded in the same process. It exists only for pcapper's tests and demo:
// the TypeScript harness (test/harness/cluster.ts) builds it once, caches the
// binary outside the repository, and starts it on free loopback ports.
//
// Usage: controlplane --etcd-dir DIR --etcd-port N -- <kube-apiserver flags>
// The kube-apiserver flags must point --etcd-servers at http://127.0.0.1:N.
//
//	controlplane gc --kubeconfig FILE [--sync-period D]
//
// runs Kubernetes' own garbage collector (the generic-garbage-collector controller of
// kube-controller-manager, pkg/controller/garbagecollector) against that API server, so that
// ownerReferences cascade as they do in a real cluster (gc.go).
package main

import (
	"flag"
	"fmt"
	"net/url"
	"os"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
	"k8s.io/component-base/cli"
	"k8s.io/kubernetes/cmd/kube-apiserver/app"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "gc" {
		os.Exit(runGarbageCollector(os.Args[2:]))
	}
	fs := flag.NewFlagSet("controlplane", flag.ExitOnError)
	etcdDir := fs.String("etcd-dir", "", "directory for etcd's data (required)")
	etcdPort := fs.Int("etcd-port", 0, "loopback port for etcd clients (required)")
	etcdPeerPort := fs.Int("etcd-peer-port", 0, "loopback port for etcd peers (required)")
	if err := fs.Parse(os.Args[1:]); err != nil {
		os.Exit(2)
	}
	if *etcdDir == "" || *etcdPort == 0 || *etcdPeerPort == 0 {
		fmt.Fprintln(os.Stderr, "controlplane: --etcd-dir, --etcd-port and --etcd-peer-port are required")
		os.Exit(2)
	}

	cfg := embed.NewConfig()
	cfg.Dir = *etcdDir
	cfg.Name = "pcapper-test"
	cfg.LogLevel = "error"
	client := url.URL{Scheme: "http", Host: fmt.Sprintf("127.0.0.1:%d", *etcdPort)}
	peer := url.URL{Scheme: "http", Host: fmt.Sprintf("127.0.0.1:%d", *etcdPeerPort)}
	cfg.ListenClientUrls = []url.URL{client}
	cfg.AdvertiseClientUrls = []url.URL{client}
	cfg.ListenPeerUrls = []url.URL{peer}
	cfg.AdvertisePeerUrls = []url.URL{peer}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	// The test cluster is thrown away after each run: durability is not needed.
	cfg.UnsafeNoFsync = true

	e, err := embed.StartEtcd(cfg)
	if err != nil {
		fmt.Fprintf(os.Stderr, "controlplane: starting etcd: %v\n", err)
		os.Exit(1)
	}
	select {
	case <-e.Server.ReadyNotify():
	case <-time.After(60 * time.Second):
		fmt.Fprintln(os.Stderr, "controlplane: etcd did not become ready within 60s")
		os.Exit(1)
	}
	go func() {
		if err := <-e.Err(); err != nil {
			fmt.Fprintf(os.Stderr, "controlplane: etcd failed: %v\n", err)
			os.Exit(1)
		}
	}()

	cmd := app.NewAPIServerCommand()
	cmd.SetArgs(fs.Args())
	code := cli.Run(cmd)
	e.Close()
	os.Exit(code)
}
