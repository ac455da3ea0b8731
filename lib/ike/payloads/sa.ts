/**
 * The Security Association payload (RFC 7296 §3.3): a list of proposals, each a list of
 * transforms, each with optional attributes. Body layout:
 *
 * ```
 * Proposal substructure (§3.3.1):
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * | Last Substruc |   RESERVED    |         Proposal Length       |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * | Proposal Num  |  Protocol ID  |    SPI Size   |Num  Transforms|
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ~                        SPI (variable)                         ~
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ~                        <Transforms>                           ~
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * Transform substructure (§3.3.2):
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * | Last Substruc |   RESERVED    |        Transform Length       |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |Transform Type |   RESERVED    |          Transform ID         |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ~                      Transform Attributes                     ~
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * Transform attribute (§3.3.5), TV when AF = 1, TLV when AF = 0:
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |A|       Attribute Type        |    AF=0  Attribute Length     |
 * |F|                             |    AF=1  Attribute Value      |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                   AF=0  Attribute Value                       |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ```
 *
 * Checked on decode: Last Substruc is 0 (last) or 2 (more) for proposals and 0 or 3 for
 * transforms, and agrees with where the data ends; lengths are at least 8 and fit their
 * container; Num Transforms matches and is not 0; SPI Size is 4 for AH/ESP, 0 or 8 for IKE
 * (0, 4 or 8 otherwise); proposal numbers are non-zero and each is one more than the last;
 * Key Length is TV-format and appears at most once. Unknown attributes are skipped and
 * reported in {@link Transform.unknownAttribute}.
 */
import { type ByteReader, type ByteWriter, DecodeError } from "../../wire/mod.ts";
import { nameOf, PayloadType, ProtocolId, TransformAttribute } from "../constants.ts";
import { checkField, MAX_PAYLOAD_BODY_LENGTH } from "./_common.ts";
import type { Proposal, SaPayload, Transform } from "./types.ts";

const LAST = 0;
const MORE_PROPOSALS = 2;
const MORE_TRANSFORMS = 3;
const SUBSTRUCTURE_HEADER_LENGTH = 8;
const ATTRIBUTE_FORMAT_TV = 0x8000;

/**
 * Reads an SA payload body.
 *
 * @example
 * ```ts
 * const sa = decodeSa(bodyReader);
 * sa.proposals[0]?.transforms.length;
 * ```
 */
export function decodeSa(reader: ByteReader): SaPayload {
  if (reader.remaining === 0) {
    throw new DecodeError("Cannot decode SA payload: it has no proposals", reader.offset);
  }
  const proposals: Proposal[] = [];
  let more = true;
  while (more) {
    if (reader.remaining === 0) {
      throw new DecodeError(
        `Cannot decode SA payload: proposal ${proposals.length} is marked as not last but the payload ends`,
        reader.offset,
      );
    }
    const proposal = decodeProposal(reader, proposals.length + 1);
    more = proposal.more;
    const previous = proposals[proposals.length - 1];
    if (proposal.value.number === 0) {
      throw new DecodeError(
        `Cannot decode SA payload: proposal ${proposals.length + 1} has number 0`,
        proposal.start + 4,
      );
    }
    if (previous !== undefined && proposal.value.number !== previous.number + 1) {
      throw new DecodeError(
        `Cannot decode SA payload: proposal number ${proposal.value.number} does not follow ${previous.number}`,
        proposal.start + 4,
      );
    }
    proposals.push(proposal.value);
  }
  if (reader.remaining !== 0) {
    throw new DecodeError(
      `Cannot decode SA payload: ${reader.remaining} bytes after the last proposal`,
      reader.offset,
    );
  }
  return { type: PayloadType.SecurityAssociation, proposals };
}

function decodeProposal(
  reader: ByteReader,
  index: number,
): { value: Proposal; more: boolean; start: number } {
  const what = `SA payload proposal ${index}`;
  const start = reader.offset;
  const last = reader.u8(what);
  if (last !== LAST && last !== MORE_PROPOSALS) {
    throw new DecodeError(
      `Cannot decode SA payload: proposal ${index} has last-substructure byte ${last}, expected 0 or 2`,
      start,
    );
  }
  reader.u8(what); // RESERVED
  const length = reader.u16(what);
  checkSubstructureLength(reader, length, `proposal ${index}`, start);
  const body = reader.sub(length - 4, what);
  const number = body.u8(what);
  const protocol = body.u8(what);
  const spiSize = body.u8(what);
  const transformCount = body.u8(what);
  checkSpiSize(protocol, spiSize, index, start + 6);
  if (transformCount === 0) {
    throw new DecodeError(
      `Cannot decode SA payload: proposal ${index} has no transforms`,
      start + 7,
    );
  }
  const spi = body.copy(spiSize, `${what} SPI`);
  const transforms: Transform[] = [];
  let more = true;
  while (more) {
    if (body.remaining === 0) {
      throw new DecodeError(
        transforms.length === 0
          ? `Cannot decode SA payload: proposal ${index} has no transforms`
          : `Cannot decode SA payload: proposal ${index} transform ${transforms.length} is marked as not last but the proposal ends`,
        body.offset,
      );
    }
    const t = decodeTransform(body, index, transforms.length + 1);
    transforms.push(t.value);
    more = t.more;
  }
  if (body.remaining !== 0) {
    throw new DecodeError(
      `Cannot decode SA payload: proposal ${index} has ${body.remaining} bytes after its last transform`,
      body.offset,
    );
  }
  if (transforms.length !== transformCount) {
    throw new DecodeError(
      `Cannot decode SA payload: proposal ${index} announces ${transformCount} transforms but carries ${transforms.length}`,
      start + 7,
    );
  }
  return { value: { number, protocol, spi, transforms }, more: last === MORE_PROPOSALS, start };
}

function decodeTransform(
  reader: ByteReader,
  proposalIndex: number,
  index: number,
): { value: Transform; more: boolean } {
  const where = `proposal ${proposalIndex} transform ${index}`;
  const what = `SA payload ${where}`;
  const start = reader.offset;
  const last = reader.u8(what);
  if (last !== LAST && last !== MORE_TRANSFORMS) {
    throw new DecodeError(
      `Cannot decode SA payload: ${where} has last-substructure byte ${last}, expected 0 or 3`,
      start,
    );
  }
  reader.u8(what); // RESERVED
  const length = reader.u16(what);
  checkSubstructureLength(reader, length, where, start);
  const body = reader.sub(length - 4, what);
  const type = body.u8(what);
  body.u8(what); // RESERVED
  const id = body.u16(what);
  const transform: Transform = { type, id };
  while (body.remaining > 0) {
    const at = body.offset;
    const word = body.u16(`${what} attribute`);
    const attributeType = word & ~ATTRIBUTE_FORMAT_TV;
    const tv = (word & ATTRIBUTE_FORMAT_TV) !== 0;
    if (attributeType === TransformAttribute.KeyLength) {
      if (!tv) {
        throw new DecodeError(
          `Cannot decode SA payload: ${where} has a Key Length attribute in TLV format`,
          at,
        );
      }
      if (transform.keyLength !== undefined) {
        throw new DecodeError(
          `Cannot decode SA payload: ${where} has more than one Key Length attribute`,
          at,
        );
      }
      transform.keyLength = body.u16(`${what} Key Length attribute`);
    } else {
      if (tv) body.u16(`${what} attribute`);
      else body.skip(body.u16(`${what} attribute`), `${what} attribute value`);
      transform.unknownAttribute ??= attributeType;
    }
  }
  return { value: transform, more: last === MORE_TRANSFORMS };
}

function checkSubstructureLength(
  reader: ByteReader,
  length: number,
  where: string,
  start: number,
): void {
  if (length < SUBSTRUCTURE_HEADER_LENGTH) {
    throw new DecodeError(
      `Cannot decode SA payload: ${where} length ${length} is shorter than 8`,
      start + 2,
    );
  }
  if (length - 4 > reader.remaining) {
    throw new DecodeError(
      `Cannot decode SA payload: ${where} length ${length} overruns its container`,
      start + 2,
    );
  }
}

function checkSpiSize(protocol: number, spiSize: number, index: number, at: number): void {
  const ok = protocol === ProtocolId.Ike
    ? spiSize === 0 || spiSize === 8
    : protocol === ProtocolId.Esp || protocol === ProtocolId.Ah
    ? spiSize === 4
    : spiSize === 0 || spiSize === 4 || spiSize === 8;
  if (!ok) {
    throw new DecodeError(
      `Cannot decode SA payload: proposal ${index} has SPI size ${spiSize} for protocol ${
        nameOf(ProtocolId, protocol)
      }`,
      at,
    );
  }
}

/**
 * Writes an SA payload body. Proposals are written in order with their own `number`;
 * `unknownAttribute` is not encoded.
 *
 * @example
 * ```ts
 * encodeSa({ type: PayloadType.SecurityAssociation, proposals: [proposal] }, writer);
 * ```
 */
export function encodeSa(value: SaPayload, writer: ByteWriter): void {
  const length = saLength(value);
  if (value.proposals.length === 0) {
    throw new RangeError("Cannot encode SA payload: it has no proposals");
  }
  checkField(length, MAX_PAYLOAD_BODY_LENGTH, "SA payload length");
  value.proposals.forEach((proposal, i) => {
    const isLast = i === value.proposals.length - 1;
    checkField(proposal.number, 0xff, "SA proposal number");
    checkField(proposal.protocol, 0xff, "SA proposal protocol");
    checkField(proposal.spi.length, 0xff, "SA proposal SPI size");
    checkField(proposal.transforms.length, 0xff, "SA proposal transform count");
    writer.u8(isLast ? LAST : MORE_PROPOSALS).u8(0).u16(proposalLength(proposal));
    writer.u8(proposal.number).u8(proposal.protocol).u8(proposal.spi.length);
    writer.u8(proposal.transforms.length).bytes(proposal.spi);
    proposal.transforms.forEach((t, j) => {
      checkField(t.type, 0xff, "SA transform type");
      checkField(t.id, 0xffff, "SA transform ID");
      writer.u8(j === proposal.transforms.length - 1 ? LAST : MORE_TRANSFORMS).u8(0);
      writer.u16(transformLength(t)).u8(t.type).u8(0).u16(t.id);
      if (t.keyLength !== undefined) {
        checkField(t.keyLength, 0xffff, "SA transform key length");
        writer.u16(ATTRIBUTE_FORMAT_TV | TransformAttribute.KeyLength).u16(t.keyLength);
      }
    });
  });
}

function transformLength(t: Transform): number {
  return SUBSTRUCTURE_HEADER_LENGTH + (t.keyLength !== undefined ? 4 : 0);
}

function proposalLength(p: Proposal): number {
  let n = SUBSTRUCTURE_HEADER_LENGTH + p.spi.length;
  for (const t of p.transforms) n += transformLength(t);
  return n;
}

/**
 * Length of an SA payload body in bytes.
 *
 * @example
 * ```ts
 * saLength({ type: PayloadType.SecurityAssociation, proposals: [] }); // 0
 * ```
 */
export function saLength(value: SaPayload): number {
  let n = 0;
  for (const p of value.proposals) n += proposalLength(p);
  return n;
}
