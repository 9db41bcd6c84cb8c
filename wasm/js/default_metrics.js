// `collectDefaultMetrics`: prom-client's default metrics, with its names and help texts, where
// the host has the data. Node (the package's CommonJS build, where `nodeRequire` is `require`):
// process CPU, start time, memory (from /proc on Linux), file descriptors (Linux), event loop
// lag and its percentiles (perf_hooks.monitorEventLoopDelay), active resources, handles and
// requests, V8 heap and heap spaces, the Node version, GC durations by kind (a
// PerformanceObserver on "gc" entries). Other hosts (browsers, workers) have none of it: there
// the function registers nothing. Values are read when the registry collects (on scrape), as
// prom-client does.

const defaultMetricsList = [
  "processCpuTotal",
  "processStartTime",
  "osMemoryHeap",
  "processOpenFileDescriptors",
  "processMaxFileDescriptors",
  "eventLoopLag",
  "processResources",
  "processHandles",
  "processRequests",
  "heapSizeAndUsed",
  "heapSpacesSizeAndUsed",
  "version",
  "gc",
];

// Sets gauge `g` (labels `labels` plus `key`) per type from a list of objects' class names.
function setByType(g, total, labels, key, items) {
  const counts = new Map();
  for (const item of items) {
    const type = typeof item === "string" ? item : item?.constructor?.name ?? "Unknown";
    counts.set(type, (counts.get(type) ?? 0) + 1);
  }
  g.reset();
  for (const [type, n] of counts) g.set({ ...labels, [key]: type }, n);
  total.set(labels, items.length);
}

function collectDefaultMetrics(config = {}) {
  if (config !== null && typeof config !== "object") throw new TypeError("config must be null, undefined, or an object");
  const req = typeof nodeRequire === "function" ? nodeRequire : undefined;
  const proc = globalThis.process;
  if (req === undefined || proc?.versions?.node === undefined) return;
  const fs = req("fs");
  const v8 = req("v8");
  const perfHooks = req("perf_hooks");
  const registers = config.register ? [config.register] : undefined;
  const prefix = config.prefix ?? "";
  const labels = config.labels ?? {};
  const own = Object.keys(labels);
  const linux = proc.platform === "linux";
  const gauge = (name, help, extra = [], collect) =>
    new Gauge({ name: prefix + name, help, labelNames: [...own, ...extra], registers, collect });

  // CPU seconds: the increase since the last collection.
  let last = proc.cpuUsage();
  const cpuUser = new Counter({
    name: prefix + "process_cpu_user_seconds_total",
    help: "Total user CPU time spent in seconds.",
    labelNames: own,
    registers,
    collect() {
      const usage = proc.cpuUsage();
      const user = (usage.user - last.user) / 1e6;
      const system = (usage.system - last.system) / 1e6;
      last = usage;
      cpuUser.inc(labels, user);
      cpuSystem.inc(labels, system);
      cpuTotal.inc(labels, user + system);
    },
  });
  const cpuSystem = new Counter({
    name: prefix + "process_cpu_system_seconds_total",
    help: "Total system CPU time spent in seconds.",
    labelNames: own,
    registers,
  });
  const cpuTotal = new Counter({
    name: prefix + "process_cpu_seconds_total",
    help: "Total user and system CPU time spent in seconds.",
    labelNames: own,
    registers,
  });

  const start = gauge("process_start_time_seconds", "Start time of the process since unix epoch in seconds.");
  start.set(labels, Math.round(Date.now() / 1000 - proc.uptime()));

  // Memory: /proc/self/status on Linux (resident, virtual, data), else Node's rss.
  const statusKb = (status, key) => {
    const m = status.match(new RegExp(`^${key}:\\s*(\\d+)`, "m"));
    return m ? Number(m[1]) * 1024 : undefined;
  };
  const rss = gauge("process_resident_memory_bytes", "Resident memory size in bytes.", [], () => {
    if (!linux) return rss.set(labels, proc.memoryUsage().rss);
    let status;
    try {
      status = fs.readFileSync("/proc/self/status", "utf8");
    } catch {
      return rss.set(labels, proc.memoryUsage().rss);
    }
    rss.set(labels, statusKb(status, "VmRSS") ?? proc.memoryUsage().rss);
    const vm = statusKb(status, "VmSize");
    if (vm !== undefined) virtual.set(labels, vm);
    const data = statusKb(status, "VmData");
    if (data !== undefined) heap.set(labels, data);
  });
  const virtual = linux ? gauge("process_virtual_memory_bytes", "Virtual memory size in bytes.") : undefined;
  const heap = linux ? gauge("process_heap_bytes", "Process heap size in bytes.") : undefined;

  if (linux) {
    const fds = gauge("process_open_fds", "Number of open file descriptors.", [], () => {
      try {
        fds.set(labels, fs.readdirSync("/proc/self/fd").length - 1);
      } catch {
        // The count is left as it was.
      }
    });
    const maxFds = gauge("process_max_fds", "Maximum number of open file descriptors.");
    try {
      const m = fs.readFileSync("/proc/self/limits", "utf8").match(/^Max open files\s+(\d+)/m);
      if (m) maxFds.set(labels, Number(m[1]));
    } catch {
      // Not readable: the gauge stays at 0.
    }
  }

  // Event loop lag: one setImmediate round trip, and the delay histogram's statistics.
  const delay = perfHooks.monitorEventLoopDelay({ resolution: config.eventLoopMonitoringPrecision ?? 10 });
  delay.enable();
  const lag = gauge("nodejs_eventloop_lag_seconds", "Lag of event loop in seconds.", [], () => {
    const t0 = proc.hrtime.bigint();
    setImmediate(() => lag.set(labels, Number(proc.hrtime.bigint() - t0) / 1e9));
    // Before the first sample the histogram reports min 2^63: 0 until there is one.
    const sampled = delay.count === undefined || delay.count > 0;
    for (const [g, f] of lagStats) g.set(labels, sampled && Number.isFinite(f()) ? f() / 1e9 : 0);
    delay.reset();
  });
  const lagStats = [
    ["min", "The minimum recorded event loop delay.", () => delay.min],
    ["max", "The maximum recorded event loop delay.", () => delay.max],
    ["mean", "The mean of the recorded event loop delays.", () => delay.mean],
    ["stddev", "The standard deviation of the recorded event loop delays.", () => delay.stddev],
    ["p50", "The 50th percentile of the recorded event loop delays.", () => delay.percentile(50)],
    ["p90", "The 90th percentile of the recorded event loop delays.", () => delay.percentile(90)],
    ["p99", "The 99th percentile of the recorded event loop delays.", () => delay.percentile(99)],
  ].map(([stat, help, f]) => [gauge(`nodejs_eventloop_lag_${stat}_seconds`, help), f]);

  if (typeof proc.getActiveResourcesInfo === "function") {
    const res = gauge(
      "nodejs_active_resources",
      "Number of active resources that are currently keeping the event loop alive, grouped by async resource type.",
      ["type"],
      () => setByType(res, resTotal, labels, "type", proc.getActiveResourcesInfo()),
    );
    const resTotal = gauge("nodejs_active_resources_total", "Total number of active resources.");
  }
  if (typeof proc._getActiveHandles === "function") {
    const handles = gauge(
      "nodejs_active_handles",
      "Number of active libuv handles grouped by handle type. Every handle type is C++ class name.",
      ["type"],
      () => setByType(handles, handlesTotal, labels, "type", proc._getActiveHandles()),
    );
    const handlesTotal = gauge("nodejs_active_handles_total", "Total number of active handles.");
  }
  if (typeof proc._getActiveRequests === "function") {
    const requests = gauge(
      "nodejs_active_requests",
      "Number of active libuv requests grouped by request type. Every request type is C++ class name.",
      ["type"],
      () => setByType(requests, requestsTotal, labels, "type", proc._getActiveRequests()),
    );
    const requestsTotal = gauge("nodejs_active_requests_total", "Total number of active requests.");
  }

  const heapTotal = gauge("nodejs_heap_size_total_bytes", "Process heap size from Node.js in bytes.", [], () => {
    const m = proc.memoryUsage();
    heapTotal.set(labels, m.heapTotal);
    heapUsed.set(labels, m.heapUsed);
    if (m.external !== undefined) external.set(labels, m.external);
  });
  const heapUsed = gauge("nodejs_heap_size_used_bytes", "Process heap size used from Node.js in bytes.");
  const external = gauge("nodejs_external_memory_bytes", "Node.js external memory size in bytes.");

  const spaces = ["total", "used", "available"].map((kind) =>
    gauge(`nodejs_heap_space_size_${kind}_bytes`, `Process heap space size ${kind} from Node.js in bytes.`, ["space"]),
  );
  spaces[0].collect = () => {
    for (const s of v8.getHeapSpaceStatistics()) {
      const space = s.space_name.replace(/_space$/, "");
      const l = { ...labels, space };
      spaces[0].set(l, s.space_size);
      spaces[1].set(l, s.space_used_size);
      spaces[2].set(l, s.space_available_size);
    }
  };

  const [major, minor, patch] = proc.version.slice(1).split(".").map(Number);
  gauge("nodejs_version_info", "Node.js version info.", ["version", "major", "minor", "patch"]).set(
    { ...labels, version: proc.version, major, minor, patch },
    1,
  );

  const gc = new Histogram({
    name: prefix + "nodejs_gc_duration_seconds",
    help: "Garbage collection duration by kind, one of major, minor, incremental or weakcb.",
    labelNames: ["kind", ...own],
    buckets: config.gcDurationBuckets ?? [0.001, 0.01, 0.1, 1, 2, 5],
    registers,
  });
  const c = perfHooks.constants;
  const kinds = {
    [c.NODE_PERFORMANCE_GC_MAJOR]: "major",
    [c.NODE_PERFORMANCE_GC_MINOR]: "minor",
    [c.NODE_PERFORMANCE_GC_INCREMENTAL]: "incremental",
    [c.NODE_PERFORMANCE_GC_WEAKCB]: "weakcb",
  };
  const observer = new perfHooks.PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      const kind = kinds[entry.detail?.kind ?? entry.kind];
      if (kind !== undefined) gc.observe({ ...labels, kind }, entry.duration / 1000);
    }
  });
  observer.observe({ entryTypes: ["gc"] });
}
collectDefaultMetrics.metricsList = defaultMetricsList;
