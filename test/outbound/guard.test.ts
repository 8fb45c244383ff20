// Which addresses outbound calls may reach, for every class the guard knows.
import t from 'tap';
import { addressRefusal, createPolicy, urlRefusal } from '../../src/outbound/guard.ts';

const none = createPolicy([]);

t.test('public unicast addresses are allowed', async (t) => {
  for (const address of ['93.184.216.34', '8.8.8.8', '2606:4700:4700::1111', '[2001:4860:4860::8888]']) {
    t.equal(addressRefusal(address, none), undefined, address);
  }
});

t.test('every private, local and special class is refused', async (t) => {
  const refused: Record<string, RegExp> = {
    '127.0.0.1': /loopback/,
    '127.255.255.254': /loopback/,
    '10.1.2.3': /private/,
    '172.16.0.1': /private/,
    '192.168.1.1': /private/,
    '169.254.169.254': /metadata|linkLocal/,
    '169.254.1.1': /linkLocal/,
    '100.64.0.1': /carrierGradeNat/,
    '100.100.100.200': /metadata|carrierGradeNat/,
    '168.63.129.16': /metadata/,
    '0.0.0.0': /unspecified/,
    '224.0.0.1': /multicast/,
    '255.255.255.255': /broadcast/,
    '::1': /loopback/,
    '::': /unspecified/,
    'fe80::1': /linkLocal/,
    'fc00::1': /uniqueLocal/,
    'fd00:ec2::254': /metadata|uniqueLocal/,
    'ff02::1': /multicast/,
    '::ffff:127.0.0.1': /loopback/,
    '::ffff:10.0.0.1': /private/,
    '::ffff:169.254.169.254': /metadata|linkLocal/,
    '64:ff9b::a00:1': /rfc6052/,
    '2002:a00:1::': /6to4/,
    '2001:0:4136:e378:8000:63bf:3fff:fdd2': /teredo/,
    '::127.0.0.1': /IPv4-compatible/,
    '::a9fe:a9fe': /IPv4-compatible/,
    '::8.8.8.8': /IPv4-compatible/,
  };
  for (const [address, why] of Object.entries(refused)) {
    t.match(addressRefusal(address, none), why, address);
  }
});

t.test('OUTBOUND_ALLOW_CIDRS opens exactly the listed ranges', async (t) => {
  const policy = createPolicy(['127.0.0.0/8', '10.1.0.0/16', 'fd00::/8']);
  t.equal(addressRefusal('127.0.0.1', policy), undefined);
  t.equal(addressRefusal('::ffff:127.0.0.1', policy), undefined, 'mapped form of an allowed address');
  t.equal(addressRefusal('10.1.9.9', policy), undefined);
  t.match(addressRefusal('10.2.0.1', policy), /private/);
  t.equal(addressRefusal('fd00::1', policy), undefined);
  t.match(addressRefusal('192.168.0.1', policy), /private/);
});

t.test('URLs: scheme, credentials and IP literals in every spelling', async (t) => {
  const refusal = (url: string) => urlRefusal(new URL(url), none);
  t.equal(refusal('https://example.com/hook'), undefined);
  t.match(refusal('ftp://example.com/'), /only http and https/);
  t.match(refusal('file:///etc/passwd'), /only http and https/);
  t.match(refusal('https://user:pw@example.com/'), /credentials/);
  for (const url of [
    'http://127.0.0.1/',
    'http://2130706433/',
    'http://0x7f000001/',
    'http://0177.0.0.1/',
    'http://127.1/',
    'http://[::1]/',
    'http://[::ffff:7f00:1]/',
    'http://0/',
    'http://169.254.169.254/latest/meta-data/',
    'http://[fd00:ec2::254]/',
    'http://[::127.0.0.1]:3320/',
  ]) {
    t.type(refusal(url), 'string', url);
  }
});

t.test('metadata services are refused by name, without DNS', async (t) => {
  const refusal = (url: string) => urlRefusal(new URL(url), createPolicy(['0.0.0.0/0']));
  for (const url of [
    'http://metadata.google.internal/computeMetadata/v1/',
    'http://METADATA.GOOGLE.INTERNAL./',
    'http://metadata/',
    'http://metadata.goog/',
    'http://instance-data/latest/meta-data/',
    'http://instance-data.ec2.internal/',
  ]) {
    t.match(refusal(url), /cloud metadata service/, url);
  }
  t.equal(refusal('http://metadata.example.com/'), undefined, 'only the names themselves');
});
