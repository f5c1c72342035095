// The peer of the API comparison, run as its own process: a minimal @grpc/grpc-js server with
// mTLS (client certificate required and verified against the same CA) answering
// plinth.machine.v1alpha1.MachineService/Version with the message Plinth's agent answered,
// decoded once and encoded again for every call as a generated-code server does.
// Usage: node grpc-js-server.ts SETTINGS.json; prints "listening PORT" once bound.
import { readFileSync } from "node:fs";
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import {
  VersionRequestSchema,
  VersionResponseSchema,
} from "../../src/api/gen/plinth/machine/v1alpha1/machine_pb.ts";

export interface GrpcJsServerSettings {
  readonly ca: string;
  readonly cert: string;
  readonly key: string;
  /** The VersionResponse to answer, protobuf-encoded, base64. */
  readonly reply: string;
}

const settings = JSON.parse(readFileSync(process.argv[2]!, "utf8")) as GrpcJsServerSettings;
const reply = fromBinary(VersionResponseSchema, Buffer.from(settings.reply, "base64"));

const service: grpc.ServiceDefinition = {
  version: {
    path: "/plinth.machine.v1alpha1.MachineService/Version",
    requestStream: false,
    responseStream: false,
    requestSerialize: (m) => Buffer.from(toBinary(VersionRequestSchema, m)),
    requestDeserialize: (b: Buffer) => fromBinary(VersionRequestSchema, b),
    responseSerialize: (m) => Buffer.from(toBinary(VersionResponseSchema, m)),
    responseDeserialize: (b: Buffer) => fromBinary(VersionResponseSchema, b),
  },
};

const server = new grpc.Server();
server.addService(service, {
  version: (_call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) =>
    callback(null, reply),
});
const credentials = grpc.ServerCredentials.createSsl(
  Buffer.from(settings.ca),
  [{ cert_chain: Buffer.from(settings.cert), private_key: Buffer.from(settings.key) }],
  true,
);
server.bindAsync("127.0.0.1:0", credentials, (err, port) => {
  if (err) {
    process.stderr.write(`grpc-js server cannot listen: ${err.message}\n`);
    process.exit(1);
  }
  process.stdout.write(`listening ${port}\n`);
});
process.once("SIGTERM", () => server.forceShutdown());
