import type { DescField, DescMessage, DescMethod, Message } from "@bufbuild/protobuf";
import { create } from "@bufbuild/protobuf";
import type { PlinthError } from "../../errors/plinth-error.ts";
import type { Metadata } from "../gen/plinth/common/v1alpha1/common_pb.ts";
import { MetadataSchema } from "../gen/plinth/common/v1alpha1/common_pb.ts";

// The reply conventions of the API, read from the descriptors so that fan-out works for every
// RPC without per-RPC code: a unary response holds `repeated <X>Reply messages = 1`, and each
// reply (or each streamed message) holds `plinth.common.v1alpha1.Metadata metadata = 1`.

type Mutable = Record<string, unknown>;

function metadataField(message: DescMessage): DescField | undefined {
  const field = message.fields.find((f) => f.number === 1);
  return field?.fieldKind === "message" && field.message.typeName === MetadataSchema.typeName
    ? field
    : undefined;
}

/**
 * The message each answer is tagged in (the reply, or the streamed message) and, for a unary RPC,
 * the list field that holds the replies; undefined when the RPC does not follow the conventions.
 */
export function replyShape(method: DescMethod): { reply: DescMessage; list?: DescField } | undefined {
  if (method.methodKind === "server_streaming") {
    if (metadataField(method.output)) return { reply: method.output };
  } else if (method.methodKind === "unary") {
    const list = method.output.fields.find((f) => f.number === 1);
    if (list?.fieldKind === "list" && list.listKind === "message" && metadataField(list.message)) {
      return { reply: list.message, list };
    }
  }
  return undefined;
}

/** Sets the node on a reply's metadata, keeping what the node put there. */
export function tagReply(reply: DescMessage, message: Message, node: string): void {
  const field = metadataField(reply)!;
  const current = (message as unknown as Mutable)[field.localName] as Metadata | undefined;
  (message as unknown as Mutable)[field.localName] = create(MetadataSchema, {
    error: current?.error ?? "",
    code: current?.code ?? "",
    node,
  });
}

/** A reply that says only that the node failed, and why. */
export function errorReply(reply: DescMessage, node: string, err: PlinthError): Message {
  const field = metadataField(reply)!;
  return create(reply, {
    [field.localName]: create(MetadataSchema, { node, error: err.message, code: err.code }),
  } as never);
}

export function repliesOf(list: DescField, response: Message): Message[] {
  return ((response as unknown as Mutable)[list.localName] as Message[] | undefined) ?? [];
}

export function responseOf(output: DescMessage, list: DescField, replies: Message[]): Message {
  return create(output, { [list.localName]: replies } as never);
}
