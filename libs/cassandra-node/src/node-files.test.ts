import { describe, expect, it } from "vitest";
import { cassandraYaml, evenTokens, jvmArgFile, jvmOptions, type NodeLayout } from "./node-files.ts";

const layout: NodeLayout = {
  name: "dev",
  clusterName: "devenv",
  listenAddress: "127.0.0.1",
  nativePort: 9042,
  storagePort: 7000,
  jmxPort: 7199,
  heap: "1G",
  dataDir: "/var/lib/dev env",
  libDir: "/cache/cassandra/5.0.9/lib",
};

describe("evenTokens", () => {
  it("splits the Murmur3 ring into equal ranges starting at its minimum", () => {
    const tokens = evenTokens(16).map(BigInt);
    expect(tokens).toHaveLength(16);
    expect(tokens[0]).toBe(-(2n ** 63n));
    for (let i = 1; i < tokens.length; i++) expect(tokens[i]! - tokens[i - 1]!).toBe(2n ** 60n);
    expect(tokens.at(-1)! < 2n ** 63n).toBe(true);
  });
});

describe("cassandraYaml", () => {
  it("makes the node its own seed on its own storage port", () => {
    const yaml = cassandraYaml({ ...layout, storagePort: 17000 });
    expect(yaml).toContain('- seeds: "127.0.0.1:17000"');
    expect(yaml).toContain("storage_port: 17000");
    expect(yaml).toContain("native_transport_port: 9042");
  });

  it("quotes paths so a data dir with spaces stays one value", () => {
    expect(cassandraYaml(layout)).toContain('commitlog_directory: "/var/lib/dev env/commitlog"');
  });
});

describe("jvmOptions", () => {
  it("fixes the heap and points Cassandra at the node's own conf and JMX port", () => {
    const options = jvmOptions(layout);
    expect(options).toEqual(expect.arrayContaining(["-Xms1G", "-Xmx1G", "-Dcassandra.jmx.local.port=7199"]));
    expect(options).toContain("-Dcassandra.config=file:///var/lib/dev%20env/conf/cassandra.yaml");
    expect(options).not.toContain("-XX:+AlwaysPreTouch");
  });

  it("writes an argfile java reads back as the same arguments", () => {
    expect(jvmArgFile(["-Xmx1G", "-Dcassandra.storagedir=/var/lib/dev env"])).toContain('\n"-Dcassandra.storagedir=/var/lib/dev env"\n');
  });
});
