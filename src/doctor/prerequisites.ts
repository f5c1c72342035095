/**
 * System programs Plinth needs, each registered by the feature that needs it. `plinth doctor`
 * checks them and installs the missing ones with apt-get.
 */
export interface Prerequisite {
  /** Program looked up on PATH (and in the sbin directories). */
  readonly binary: string;
  /** Debian package that provides it. */
  readonly aptPackage: string;
  /** Arguments that make the program print its version. */
  readonly versionArgs: readonly string[];
  /** Features that need it; `plinth doctor --feature X` checks only those. */
  readonly neededBy: readonly Feature[];
}

export const features = ["state-etcd", "host", "sandbox", "cluster", "tests", "bench", "mesh"] as const;
export type Feature = (typeof features)[number];

export const prerequisites: readonly Prerequisite[] = [
  {
    binary: "etcd",
    aptPackage: "etcd-server",
    versionArgs: ["--version"],
    neededBy: ["state-etcd", "cluster", "tests"],
  },
  {
    binary: "ip",
    aptPackage: "iproute2",
    versionArgs: ["-V"],
    neededBy: ["host", "sandbox", "cluster", "tests"],
  },
  {
    binary: "unshare",
    aptPackage: "util-linux",
    versionArgs: ["--version"],
    neededBy: ["sandbox", "cluster", "tests"],
  },
  { binary: "nsenter", aptPackage: "util-linux", versionArgs: ["--version"], neededBy: ["sandbox", "tests"] },
  { binary: "pgrep", aptPackage: "procps", versionArgs: ["-V"], neededBy: ["sandbox", "tests"] },
  { binary: "sysctl", aptPackage: "procps", versionArgs: ["-V"], neededBy: ["host", "tests"] },
  // The API balancer benchmark runs haproxy beside Plinth's balancer, with the same load.
  { binary: "haproxy", aptPackage: "haproxy", versionArgs: ["-v"], neededBy: ["bench"] },
  // `bench peers` runs the tools people use instead of Plinth beside it: Ansible, Nebula, a
  // WireGuard link set by hand (wireguard-go where the kernel has no module), iperf3 and ping.
  { binary: "ansible-playbook", aptPackage: "ansible", versionArgs: ["--version"], neededBy: ["bench"] },
  { binary: "nebula", aptPackage: "nebula", versionArgs: ["-version"], neededBy: ["bench"] },
  { binary: "nebula-cert", aptPackage: "nebula", versionArgs: ["-version"], neededBy: ["bench"] },
  { binary: "iperf3", aptPackage: "iperf3", versionArgs: ["--version"], neededBy: ["bench"] },
  { binary: "ping", aptPackage: "iputils-ping", versionArgs: ["-V"], neededBy: ["bench", "tests"] },
  // The mesh: wg configures WireGuard links, wireguard-go is the link where the kernel has no
  // module, nft holds the steering marks (table inet plinth_mesh). The API balancer's kernel data
  // path (table ip plinth_balancer) needs nft on every host, and its benchmark measures it.
  {
    binary: "wg",
    aptPackage: "wireguard-tools",
    versionArgs: ["--version"],
    neededBy: ["mesh", "cluster", "tests", "bench"],
  },
  {
    binary: "wireguard-go",
    aptPackage: "wireguard-go",
    versionArgs: ["--version"],
    neededBy: ["mesh", "cluster", "tests", "bench"],
  },
  {
    binary: "nft",
    aptPackage: "nftables",
    versionArgs: ["--version"],
    neededBy: ["mesh", "cluster", "tests", "host", "bench"],
  },
  // The API balancer's kernel data path deletes the conntrack entries of connections refused by
  // an upstream that left its map (optional: without it, a reused source port may meet them).
  {
    binary: "conntrack",
    aptPackage: "conntrack",
    versionArgs: ["--version"],
    neededBy: ["host", "tests", "bench"],
  },
];
