/**
 * {@link openCaptureView}: the packet view engine behind the UI and `summary/merge --filter`.
 *
 * Memory per packet: the file's {@link PacketIndex} (26 B), plus, when several files are merged,
 * the view order (file number 2 B + packet in file 4 B), plus `tcp.stream` numbers (4 B) once a
 * filter or a follow needed them. Nothing decoded is kept: rows and details decode the packets
 * they show (read with one positioned read per run of neighbouring packets); a filter re-reads
 * the files in one sequential pass with the allocation-free decoder.
 *
 * Order: one file is shown in file order (frame numbers equal Wireshark's); several files in
 * timestamp order, ties by file order, as `merge` writes them. Packets found by {@link
 * CaptureView.refresh} are appended after those already shown (merged among themselves), so frame
 * numbers never change while a capture grows.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { PcapIoError } from '../errors.js';
import { CaptureReader } from '../reader.js';
import { endpointMap, findCaptureMetadata, type CaptureMetadata } from '../metadata.js';
import { compileFilter } from '../filter/compile.js';
import { EndpointIndex, FilterPacket, type CapturePointInfo } from '../filter/packet.js';
import { TcpStreams } from '../filter/streams.js';
import { IpProto, TcpFlag } from '../decode.js';
import { capturePointOf } from './capturepoints.js';
import { dissect } from './dissect.js';
import { reassemble, httpMessages, type Segment } from './follow.js';
import { loadOrBuildIndex, scanCapture, storeIndex, indexCandidates, type IndexPlaces } from './indexer.js';
import type { PacketIndex } from './packetindex.js';
import { endpointsOf, infoOf, protocolOf, srcAddressText, dstAddressText } from './row.js';
import type { CaptureView, FilterResult, FollowedStream, OpenViewOptions, PacketDetail, PacketRow, Timeline } from './types.js';
import { endpointLabel } from '../metadata.js';

interface FileState {
  path: string;
  index: PacketIndex;
  indexPath: string | undefined;
  fh: FileHandle | undefined;
  points: CapturePointInfo[];
  sidecar: CaptureMetadata | undefined;
}

/** Packets read for display: bytes plus where they sit in the view. */
interface ReadPacket {
  pos: number;
  file: number;
  local: number;
  bytes: Buffer;
}

/** Extra facts about an open view, for the UI's status line and tests. */
export interface ViewInfo {
  files: { path: string; packets: number; indexPath: string | undefined; indexHow: 'loaded' | 'built'; indexReason: string; problem: string | undefined }[];
  /** Problems with capture metadata that were ignored (the view still opens). */
  warnings: string[];
}

export interface OpenedCaptureView extends CaptureView {
  readonly info: ViewInfo;
  /** Approximate bytes of per-packet state held by the view (index arrays, order, stream numbers). */
  readonly memoryBytes: number;
  /** Calls `visit` for each of the first `count` packets in view order (the filter pass; used by summary/merge --filter). */
  forEach(visit: (p: FilterPacket, pos: number) => void, opts?: { streams?: boolean }): Promise<number>;
}

const MAX_GAP = 64 * 1024;
const MAX_RUN = 4 * 1024 * 1024;

class View implements OpenedCaptureView {
  readonly info: ViewInfo;
  private readonly files: FileState[];
  private readonly places: IndexPlaces;
  private count = 0;
  /** view position -> file, and -> packet number in that file (only with several files) */
  private fileOf: Uint16Array | undefined;
  private localOf: Uint32Array | undefined;
  private streamOf = new Int32Array(0);
  private streamsDone = 0;
  private readonly streams = new TcpStreams();
  private endpoints: EndpointIndex;
  private firstSec = 0;
  private firstNsec = 0;
  private closed = false;

  constructor(files: FileState[], info: ViewInfo, places: IndexPlaces, metas: CaptureMetadata[]) {
    this.files = files;
    this.info = info;
    this.places = places;
    this.endpoints = new EndpointIndex(endpointMap(metas));
    if (files.length > 1) {
      this.fileOf = new Uint16Array(0);
      this.localOf = new Uint32Array(0);
    }
    this.appendOrder(files.map(() => 0));
  }

  get packetCount(): number {
    return this.count;
  }

  get memoryBytes(): number {
    let m = 0;
    for (const f of this.files) m += f.index.memoryBytes;
    m += (this.fileOf?.byteLength ?? 0) + (this.localOf?.byteLength ?? 0) + this.streamOf.byteLength;
    return m;
  }

  /** Appends to the view order the packets of each file from `from[f]` to its end, merged by time. */
  private appendOrder(from: number[]): void {
    const fs = this.files;
    const total = fs.reduce((n, f, i) => n + f.index.count - from[i]!, 0);
    if (total === 0) return;
    const wasEmpty = this.count === 0;
    if (this.fileOf === undefined || this.localOf === undefined) {
      this.count = fs[0]!.index.count;
    } else {
      const fileOf = new Uint16Array(this.count + total);
      fileOf.set(this.fileOf.subarray(0, this.count));
      const localOf = new Uint32Array(this.count + total);
      localOf.set(this.localOf.subarray(0, this.count));
      const next = [...from];
      let k = this.count;
      for (;;) {
        let best = -1;
        let bs = 0;
        let bn = 0;
        for (let f = 0; f < fs.length; f++) {
          const ix = fs[f]!.index;
          const i = next[f]!;
          if (i >= ix.count) continue;
          const s = ix.sec[i]!;
          const n = ix.nsec[i]!;
          if (best < 0 || s < bs || (s === bs && n < bn)) {
            best = f;
            bs = s;
            bn = n;
          }
        }
        if (best < 0) break;
        fileOf[k] = best;
        localOf[k] = next[best]!;
        next[best]!++;
        k++;
      }
      this.fileOf = fileOf;
      this.localOf = localOf;
      this.count = k;
    }
    if (wasEmpty && this.count > 0) {
      const f = this.fileAt(0);
      const l = this.localAt(0);
      this.firstSec = fs[f]!.index.sec[l]!;
      this.firstNsec = fs[f]!.index.nsec[l]!;
    }
  }

  private fileAt(pos: number): number {
    return this.fileOf === undefined ? 0 : this.fileOf[pos]!;
  }

  private localAt(pos: number): number {
    return this.localOf === undefined ? pos : this.localOf[pos]!;
  }

  private relTime(sec: number, nsec: number): number {
    return sec - this.firstSec + (nsec - this.firstNsec) / 1e9;
  }

  async refresh(): Promise<number> {
    this.assertOpen();
    const from: number[] = [];
    let grew = false;
    for (const f of this.files) {
      const before = f.index.count;
      from.push(before);
      const { index, added } = await scanCapture(f.path, f.index);
      f.index = index;
      if (added > 0 || index.count !== before) grew = true;
      for (let i = f.points.length; i < index.header.interfaces.length; i++) f.points.push(capturePointOf(index.header.interfaces[i]!, f.sidecar, f.path).point);
      const fi = this.info.files.find((x) => x.path === f.path);
      if (fi) {
        fi.packets = index.count;
        fi.problem = index.header.problem;
      }
      if (added > 0 && f.indexPath !== undefined) f.indexPath = await storeIndex(index, [f.indexPath, ...indexCandidates(f.path, this.places)]);
    }
    if (grew) this.appendOrder(from);
    return this.count;
  }

  private async handle(f: FileState): Promise<FileHandle> {
    if (f.fh === undefined) {
      try {
        f.fh = await open(f.path, 'r');
      } catch (err) {
        throw new PcapIoError(f.path, `cannot open: ${(err as Error).message}`, { cause: err });
      }
    }
    return f.fh;
  }

  /** Reads the bytes of the packets at view positions `positions` (any order). */
  private async readPackets(positions: readonly number[]): Promise<ReadPacket[]> {
    const byFile = new Map<number, ReadPacket[]>();
    const out: ReadPacket[] = [];
    for (const pos of positions) {
      const file = this.fileAt(pos);
      const rp: ReadPacket = { pos, file, local: this.localAt(pos), bytes: Buffer.alloc(0) };
      out.push(rp);
      let l = byFile.get(file);
      if (!l) byFile.set(file, (l = []));
      l.push(rp);
    }
    for (const [file, list] of byFile) {
      const f = this.files[file]!;
      const ix = f.index;
      const fh = await this.handle(f);
      list.sort((a, b) => ix.offset[a.local]! - ix.offset[b.local]!);
      let i = 0;
      while (i < list.length) {
        const start = ix.offset[list[i]!.local]!;
        let endOff = start + ix.caplen[list[i]!.local]!;
        let j = i + 1;
        while (j < list.length) {
          const o = ix.offset[list[j]!.local]!;
          const e = o + ix.caplen[list[j]!.local]!;
          if (o - endOff > MAX_GAP || Math.max(e, endOff) - start > MAX_RUN) break;
          endOff = Math.max(endOff, e);
          j++;
        }
        const buf = Buffer.alloc(endOff - start);
        let got = 0;
        while (got < buf.length) {
          const { bytesRead } = await fh.read(buf, got, buf.length - got, start + got).catch((err: unknown) => {
            throw new PcapIoError(f.path, `read failed: ${(err as Error).message}`, { cause: err });
          });
          if (bytesRead === 0) throw new PcapIoError(f.path, `file is shorter than its index (offset ${start + got}): was it replaced?`);
          got += bytesRead;
        }
        for (let k = i; k < j; k++) {
          const rp = list[k]!;
          const o = ix.offset[rp.local]! - start;
          rp.bytes = buf.subarray(o, o + ix.caplen[rp.local]!);
        }
        i = j;
      }
    }
    return out;
  }

  /** Points `p` at a read packet. */
  private load(p: FilterPacket, rp: ReadPacket): void {
    const f = this.files[rp.file]!;
    const ix = f.index;
    const iface = ix.iface[rp.local]!;
    p.set(rp.bytes, 0, rp.bytes.length, ix.origLen[rp.local]!, ix.header.interfaces[iface]?.linkType ?? 0);
    p.frame = rp.pos + 1;
    p.tsSec = ix.sec[rp.local]!;
    p.tsNsec = ix.nsec[rp.local]!;
    p.relTime = this.relTime(p.tsSec, p.tsNsec);
    p.interfaceId = iface;
    p.capturePoint = f.points[iface] ?? { label: f.path };
    p.endpoints = this.endpoints;
    p.stream = rp.pos < this.streamsDone ? this.streamOf[rp.pos]! : -1;
  }

  private row(p: FilterPacket): PacketRow {
    const protocol = protocolOf(p);
    const { source, destination } = endpointsOf(p);
    const row: PacketRow = {
      number: p.frame,
      timestampNs: (BigInt(p.tsSec) * 1000000000n + BigInt(p.tsNsec)).toString(),
      relativeTime: p.relTime,
      capturePoint: p.capturePoint.label,
      source,
      destination,
      protocol,
      length: p.origLen,
      info: infoOf(p, protocol),
    };
    if (p.d.transport) {
      row.sourcePort = p.d.srcPort;
      row.destinationPort = p.d.dstPort;
    }
    return row;
  }

  async rows(from: number, count: number, within?: FilterResult): Promise<PacketRow[]> {
    this.assertOpen();
    if (!Number.isInteger(from) || from < 0 || !Number.isInteger(count) || count < 0) throw new RangeError(`rows(${from}, ${count}): from and count must be non-negative integers`);
    const positions: number[] = [];
    if (within !== undefined) {
      const m = within.matches;
      for (let i = from; i < m.length && positions.length < count; i++) if (m[i]! - 1 < this.count) positions.push(m[i]! - 1);
    } else for (let i = from; i < this.count && positions.length < count; i++) positions.push(i);
    const read = await this.readPackets(positions);
    const p = new FilterPacket();
    return read.map((rp) => {
      this.load(p, rp);
      return this.row(p);
    });
  }

  private checkFrame(frame: number): number {
    if (!Number.isInteger(frame) || frame < 1 || frame > this.count) throw new RangeError(`frame ${frame} does not exist: the view has frames 1..${this.count}`);
    return frame - 1;
  }

  async detail(frame: number): Promise<PacketDetail> {
    this.assertOpen();
    const pos = this.checkFrame(frame);
    const [rp] = await this.readPackets([pos]);
    const p = new FilterPacket();
    this.load(p, rp!);
    const row = this.row(p);
    const ts = new Date(p.tsSec * 1000).toISOString().replace(/\.\d{3}Z$/, `.${String(p.tsNsec).padStart(9, '0')}Z`);
    return { row, layers: dissect(p, { number: frame, timestamp: ts, capturePoint: row.capturePoint }), bytesBase64: rp!.bytes.toString('base64') };
  }

  async forEach(visit: (p: FilterPacket, pos: number) => void, opts: { streams?: boolean } = {}): Promise<number> {
    this.assertOpen();
    const n = this.count;
    const wantStreams = opts.streams === true;
    if (wantStreams && this.streamOf.length < n) {
      const s = new Int32Array(n);
      s.set(this.streamOf.subarray(0, this.streamsDone));
      this.streamOf = s;
    }
    const readers: (CaptureReader | undefined)[] = this.files.map(() => undefined);
    const p = new FilterPacket();
    p.endpoints = this.endpoints;
    try {
      for (let pos = 0; pos < n; pos++) {
        const file = this.fileAt(pos);
        const f = this.files[file]!;
        let r = readers[file];
        if (r === undefined) r = readers[file] = await CaptureReader.open(f.path);
        while (!r.advance()) {
          if (r.done) throw new PcapIoError(f.path, `file has fewer packets than its index (${r.packetNumber}): was it replaced?`);
          await r.fill();
        }
        const local = this.localAt(pos);
        const ix = f.index;
        p.set(r.data, r.dataOffset, r.caplen, r.origLen, r.linkType);
        p.frame = pos + 1;
        p.tsSec = r.tsSec;
        p.tsNsec = r.tsNsec;
        p.relTime = this.relTime(r.tsSec, r.tsNsec);
        const iface = ix.iface[local]!;
        p.interfaceId = iface;
        p.capturePoint = f.points[iface] ?? { label: f.path };
        if (wantStreams) {
          if (pos >= this.streamsDone) {
            this.streamOf[pos] = this.streams.assign(p.b, p.d);
            this.streamsDone = pos + 1;
          }
          p.stream = this.streamOf[pos]!;
        } else p.stream = pos < this.streamsDone ? this.streamOf[pos]! : -1;
        visit(p, pos);
      }
    } finally {
      for (const r of readers) if (r !== undefined) await r.close();
    }
    return n;
  }

  async filter(expression: string): Promise<FilterResult> {
    this.assertOpen();
    const cf = compileFilter(expression);
    let matches = new Uint32Array(1024);
    let k = 0;
    const examined = await this.forEach(
      (p) => {
        if (!cf.test(p)) return;
        if (k === matches.length) {
          const m = new Uint32Array(matches.length * 2);
          m.set(matches);
          matches = m;
        }
        matches[k++] = p.frame;
      },
      { streams: cf.needsStream },
    );
    return { expression, matches: matches.slice(0, k), examined };
  }

  async follow(frame: number): Promise<FollowedStream> {
    this.assertOpen();
    const pos = this.checkFrame(frame);
    if (this.streamsDone <= pos) await this.forEach(() => undefined, { streams: true });
    const stream = this.streamOf[pos]!;
    if (stream < 0) throw new RangeError(`frame ${frame} is not a TCP segment: only TCP streams can be followed`);
    const positions: number[] = [];
    for (let i = 0; i < this.streamsDone; i++) if (this.streamOf[i] === stream) positions.push(i);
    const read = await this.readPackets(positions);
    read.sort((a, b) => a.pos - b.pos);
    const p = new FilterPacket();
    let clientKey: string | undefined;
    let client = '';
    let server = '';
    const segs: Segment[] = [];
    const keys: string[] = [];
    for (const rp of read) {
      this.load(p, rp);
      const key = `${srcAddressText(p)}|${p.d.srcPort}`;
      keys.push(key);
      if (clientKey === undefined && (p.d.tcpFlags & (TcpFlag.SYN | TcpFlag.ACK)) === TcpFlag.SYN) clientKey = key;
    }
    for (let i = 0; i < read.length; i++) {
      const rp = read[i]!;
      this.load(p, rp);
      if (!p.d.transport || p.d.proto !== IpProto.TCP) continue;
      if (clientKey === undefined) clientKey = keys[i];
      const fromClient = keys[i] === clientKey;
      if (client === '') {
        const s = `${endpointLabel(p.srcEndpoint()) ?? srcAddressText(p)}:${p.d.srcPort}`;
        const t = `${endpointLabel(p.dstEndpoint()) ?? dstAddressText(p)}:${p.d.dstPort}`;
        client = fromClient ? s : t;
        server = fromClient ? t : s;
      }
      const d = p.d;
      segs.push({ frame: rp.pos + 1, fromClient, seq: d.seq, syn: (d.tcpFlags & TcpFlag.SYN) !== 0, fin: (d.tcpFlags & TcpFlag.FIN) !== 0, data: Buffer.from(p.b.subarray(d.payloadOffset, d.payloadOffset + d.payloadCaptured)), length: d.payloadLength });
    }
    const r = reassemble(segs);
    const http = [...httpMessages(r.client, r.clientMarks, true), ...httpMessages(r.server, r.serverMarks, false)].sort((a, b) => a.packet - b.packet);
    return { stream, client, server, packets: positions.map((x) => x + 1), chunks: r.chunks, http };
  }

  timeline(buckets: number): Promise<Timeline> {
    return Promise.resolve().then(() => this.timelineNow(buckets));
  }

  private timelineNow(buckets: number): Timeline {
    this.assertOpen();
    if (!Number.isInteger(buckets) || buckets < 1 || buckets > 100000) throw new RangeError(`timeline(${buckets}): buckets must be an integer 1..100000`);
    if (this.count === 0) return { start: 0, bucketSeconds: 1, series: [] };
    let min = Infinity;
    let max = -Infinity;
    for (const f of this.files) {
      const ix = f.index;
      for (let i = 0; i < ix.count; i++) {
        const t = ix.sec[i]! + ix.nsec[i]! / 1e9;
        if (t < min) min = t;
        if (t > max) max = t;
      }
    }
    const width = Math.max((max - min) / buckets, 1e-6);
    const series = new Map<string, { capturePoint: string; packets: number[]; bytes: number[] }>();
    for (const f of this.files) {
      const ix = f.index;
      const perIface = f.points.map((cp) => {
        let s = series.get(cp.label);
        if (!s) series.set(cp.label, (s = { capturePoint: cp.label, packets: new Array<number>(buckets).fill(0), bytes: new Array<number>(buckets).fill(0) }));
        return s;
      });
      for (let i = 0; i < ix.count; i++) {
        const t = ix.sec[i]! + ix.nsec[i]! / 1e9;
        const bkt = Math.min(buckets - 1, Math.floor((t - min) / width));
        const s = perIface[ix.iface[i]!];
        if (!s) continue;
        s.packets[bkt]!++;
        s.bytes[bkt]! += ix.origLen[i]!;
      }
    }
    return { start: min, bucketSeconds: width, series: [...series.values()].filter((s) => s.packets.some((x) => x > 0)) };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const f of this.files) {
      if (f.fh !== undefined) await f.fh.close();
      f.fh = undefined;
    }
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('the capture view is closed');
  }
}

/** Opens one or more capture files as one view (see the module comment). */
export async function openCaptureView(paths: readonly string[], opts: OpenViewOptions = {}): Promise<OpenedCaptureView> {
  if (paths.length === 0) throw new RangeError('openCaptureView: no capture file given');
  if (paths.length > 65535) throw new RangeError('openCaptureView: at most 65535 files');
  const places: IndexPlaces = { indexDir: opts.indexDir, cacheDir: opts.cacheDir, noIndexFiles: opts.noIndexFiles };
  const files: FileState[] = [];
  const info: ViewInfo = { files: [], warnings: [] };
  const metas: CaptureMetadata[] = [];
  for (const path of paths) {
    const li = await loadOrBuildIndex(path, places);
    let sidecar: CaptureMetadata | undefined;
    try {
      sidecar = (await findCaptureMetadata(path))?.metadata;
    } catch (err) {
      info.warnings.push(`ignoring capture metadata for ${path}: ${(err as Error).message}`);
    }
    const points: CapturePointInfo[] = [];
    for (const iface of li.index.header.interfaces) {
      const { point, metadata } = capturePointOf(iface, sidecar, path);
      points.push(point);
      if (metadata && !metas.includes(metadata)) metas.push(metadata);
    }
    if (sidecar && !metas.includes(sidecar)) metas.push(sidecar);
    files.push({ path, index: li.index, indexPath: li.indexPath, fh: undefined, points, sidecar });
    info.files.push({ path, packets: li.index.count, indexPath: li.indexPath, indexHow: li.how, indexReason: li.reason, problem: li.index.header.problem });
  }
  return new View(files, info, places, metas);
}
