package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/metadata/metadatainformer"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/controller-manager/pkg/informerfactory"
	"k8s.io/kubernetes/pkg/controller/garbagecollector"
)

// runGarbageCollector runs kube-controller-manager's garbage collector and nothing else of it:
// the same controller, wired as kube-controller-manager wires it (cmd/kube-controller-manager/app:
// CreateControllerContext and startGarbageCollectorController), with a shorter discovery sync so
// that custom resources created by a test are watched within seconds rather than 30 s.
func runGarbageCollector(args []string) int {
	fs := flag.NewFlagSet("controlplane gc", flag.ExitOnError)
	kubeconfig := fs.String("kubeconfig", "", "kubeconfig of the identity the collector acts as (required)")
	syncPeriod := fs.Duration("sync-period", 2*time.Second, "how often discovery is re-read to watch new resource types")
	workers := fs.Int("workers", 5, "concurrent deletions")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *kubeconfig == "" {
		fmt.Fprintln(os.Stderr, "controlplane gc: --kubeconfig is required")
		return 2
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", *kubeconfig)
	if err != nil {
		fmt.Fprintf(os.Stderr, "controlplane gc: reading %s: %v\n", *kubeconfig, err)
		return 1
	}
	cfg.QPS, cfg.Burst = 100, 200
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	client := kubernetes.NewForConfigOrDie(cfg)
	metadataClient := metadata.NewForConfigOrDie(cfg)
	sharedInformers := informers.NewSharedInformerFactory(client, 0)
	metadataInformers := metadatainformer.NewSharedInformerFactory(metadataClient, 0)
	discovery := memory.NewMemCacheClient(client.Discovery())
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(discovery)
	go wait.Until(mapper.Reset, *syncPeriod, ctx.Done())

	started := make(chan struct{})
	gc, err := garbagecollector.NewGarbageCollector(ctx, client, metadataClient, mapper,
		garbagecollector.DefaultIgnoredResources(),
		informerfactory.NewInformerFactory(sharedInformers, metadataInformers), started)
	if err != nil {
		fmt.Fprintf(os.Stderr, "controlplane gc: %v\n", err)
		return 1
	}
	go gc.Run(ctx, *workers, 30*time.Second)
	go gc.Sync(ctx, discovery, *syncPeriod)
	sharedInformers.Start(ctx.Done())
	metadataInformers.Start(ctx.Done())
	close(started)
	fmt.Fprintln(os.Stderr, "controlplane gc: running")
	<-ctx.Done()
	return 0
}
