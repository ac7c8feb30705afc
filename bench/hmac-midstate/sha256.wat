;; SHA-256 compression and HMAC-SHA256 from precomputed key midstates (ipad/opad states).
;; The candidate that bench/hmac.bench.ts measures against node:crypto (assembled there with the wabt
;; package). Not shipped: on this machine OpenSSL hashes with SHA-NI and wins (see the bench).
;;
;; Memory (one 64 KiB page):
;;   0..31      working state, 8 words
;;   64..95     output: the HMAC as 32 big-endian bytes
;;   224..255   SHA-256 initial hash value H0
;;   256..511   round constants K
;;   512..767   message schedule W
;;   768..895   scratch block (key block for midstate, outer block)
;;   1024..5119 key midstates: 64 bytes per key slot (inner state, then outer state)
;;   8192..     the message, followed by room for its padding
(module
  (memory (export "memory") 1)
  (data (i32.const 256) "\98\2f\8a\42\91\44\37\71\cf\fb\c0\b5\a5\db\b5\e9\5b\c2\56\39\f1\11\f1\59\a4\82\3f\92\d5\5e\1c\ab")
  (data (i32.const 288) "\98\aa\07\d8\01\5b\83\12\be\85\31\24\c3\7d\0c\55\74\5d\be\72\fe\b1\de\80\a7\06\dc\9b\74\f1\9b\c1")
  (data (i32.const 320) "\c1\69\9b\e4\86\47\be\ef\c6\9d\c1\0f\cc\a1\0c\24\6f\2c\e9\2d\aa\84\74\4a\dc\a9\b0\5c\da\88\f9\76")
  (data (i32.const 352) "\52\51\3e\98\6d\c6\31\a8\c8\27\03\b0\c7\7f\59\bf\f3\0b\e0\c6\47\91\a7\d5\51\63\ca\06\67\29\29\14")
  (data (i32.const 384) "\85\0a\b7\27\38\21\1b\2e\fc\6d\2c\4d\13\0d\38\53\54\73\0a\65\bb\0a\6a\76\2e\c9\c2\81\85\2c\72\92")
  (data (i32.const 416) "\a1\e8\bf\a2\4b\66\1a\a8\70\8b\4b\c2\a3\51\6c\c7\19\e8\92\d1\24\06\99\d6\85\35\0e\f4\70\a0\6a\10")
  (data (i32.const 448) "\16\c1\a4\19\08\6c\37\1e\4c\77\48\27\b5\bc\b0\34\b3\0c\1c\39\4a\aa\d8\4e\4f\ca\9c\5b\f3\6f\2e\68")
  (data (i32.const 480) "\ee\82\8f\74\6f\63\a5\78\14\78\c8\84\08\02\c7\8c\fa\ff\be\90\eb\6c\50\a4\f7\a3\f9\be\f2\78\71\c6")
  (data (i32.const 224) "\67\e6\09\6a\85\ae\67\bb\72\f3\6e\3c\3a\f5\4f\a5\7f\52\0e\51\8c\68\05\9b\ab\d9\83\1f\19\cd\e0\5b")
  (func $bswap (param $x i32) (result i32)
    (i32.or
      (i32.or (i32.shl (local.get $x) (i32.const 24))
              (i32.shl (i32.and (local.get $x) (i32.const 0xff00)) (i32.const 8)))
      (i32.or (i32.and (i32.shr_u (local.get $x) (i32.const 8)) (i32.const 0xff00))
              (i32.shr_u (local.get $x) (i32.const 24)))))

  ;; One SHA-256 compression: the state at $s (8 native words) absorbs the 64-byte block at $blk.
  (func $compress (param $s i32) (param $blk i32)
    (local $i i32) (local $p i32) (local $x i32) (local $y i32)
    (local $a i32) (local $b i32) (local $c i32) (local $d i32)
    (local $e i32) (local $f i32) (local $g i32) (local $h i32)
    (local $t1 i32) (local $t2 i32)
    (loop $load
      (i32.store (i32.add (i32.const 512) (i32.shl (local.get $i) (i32.const 2)))
        (call $bswap (i32.load (i32.add (local.get $blk) (i32.shl (local.get $i) (i32.const 2))))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $load (i32.lt_u (local.get $i) (i32.const 16))))
    (loop $expand
      (local.set $p (i32.add (i32.const 512) (i32.shl (local.get $i) (i32.const 2))))
      (local.set $x (i32.load (i32.sub (local.get $p) (i32.const 60))))
      (local.set $y (i32.load (i32.sub (local.get $p) (i32.const 8))))
      (i32.store (local.get $p)
        (i32.add
          (i32.add (i32.load (i32.sub (local.get $p) (i32.const 64))) (i32.load (i32.sub (local.get $p) (i32.const 28))))
          (i32.add
            (i32.xor (i32.xor (i32.rotr (local.get $x) (i32.const 7)) (i32.rotr (local.get $x) (i32.const 18)))
                     (i32.shr_u (local.get $x) (i32.const 3)))
            (i32.xor (i32.xor (i32.rotr (local.get $y) (i32.const 17)) (i32.rotr (local.get $y) (i32.const 19)))
                     (i32.shr_u (local.get $y) (i32.const 10))))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $expand (i32.lt_u (local.get $i) (i32.const 64))))
    (local.set $a (i32.load offset=0 (local.get $s)))
    (local.set $b (i32.load offset=4 (local.get $s)))
    (local.set $c (i32.load offset=8 (local.get $s)))
    (local.set $d (i32.load offset=12 (local.get $s)))
    (local.set $e (i32.load offset=16 (local.get $s)))
    (local.set $f (i32.load offset=20 (local.get $s)))
    (local.set $g (i32.load offset=24 (local.get $s)))
    (local.set $h (i32.load offset=28 (local.get $s)))
    (local.set $i (i32.const 0))
    (loop $round
      (local.set $t1
        (i32.add
          (i32.add (local.get $h)
            (i32.xor (i32.xor (i32.rotr (local.get $e) (i32.const 6)) (i32.rotr (local.get $e) (i32.const 11)))
                     (i32.rotr (local.get $e) (i32.const 25))))
          (i32.add
            (i32.xor (i32.and (local.get $e) (local.get $f))
                     (i32.and (i32.xor (local.get $e) (i32.const -1)) (local.get $g)))
            (i32.add (i32.load offset=256 (local.get $i)) (i32.load offset=512 (local.get $i))))))
      (local.set $t2
        (i32.add
          (i32.xor (i32.xor (i32.rotr (local.get $a) (i32.const 2)) (i32.rotr (local.get $a) (i32.const 13)))
                   (i32.rotr (local.get $a) (i32.const 22)))
          (i32.xor (i32.xor (i32.and (local.get $a) (local.get $b)) (i32.and (local.get $a) (local.get $c)))
                   (i32.and (local.get $b) (local.get $c)))))
      (local.set $h (local.get $g))
      (local.set $g (local.get $f))
      (local.set $f (local.get $e))
      (local.set $e (i32.add (local.get $d) (local.get $t1)))
      (local.set $d (local.get $c))
      (local.set $c (local.get $b))
      (local.set $b (local.get $a))
      (local.set $a (i32.add (local.get $t1) (local.get $t2)))
      (local.set $i (i32.add (local.get $i) (i32.const 4)))
      (br_if $round (i32.lt_u (local.get $i) (i32.const 256))))
    (i32.store offset=0 (local.get $s) (i32.add (i32.load offset=0 (local.get $s)) (local.get $a)))
    (i32.store offset=4 (local.get $s) (i32.add (i32.load offset=4 (local.get $s)) (local.get $b)))
    (i32.store offset=8 (local.get $s) (i32.add (i32.load offset=8 (local.get $s)) (local.get $c)))
    (i32.store offset=12 (local.get $s) (i32.add (i32.load offset=12 (local.get $s)) (local.get $d)))
    (i32.store offset=16 (local.get $s) (i32.add (i32.load offset=16 (local.get $s)) (local.get $e)))
    (i32.store offset=20 (local.get $s) (i32.add (i32.load offset=20 (local.get $s)) (local.get $f)))
    (i32.store offset=24 (local.get $s) (i32.add (i32.load offset=24 (local.get $s)) (local.get $g)))
    (i32.store offset=28 (local.get $s) (i32.add (i32.load offset=28 (local.get $s)) (local.get $h))))

  ;; The state after H0 absorbed the 64-byte block at $blk, stored at $dst (a key's ipad or opad block).
  (func (export "midstate") (param $dst i32) (param $blk i32)
    (memory.copy (local.get $dst) (i32.const 224) (i32.const 32))
    (call $compress (local.get $dst) (local.get $blk)))

  ;; HMAC-SHA256 of the $len-byte message at 8192 with the key whose midstates are at $key;
  ;; writes the 32-byte MAC at 64. Only the message blocks and one outer block are compressed.
  (func (export "hmac") (param $key i32) (param $len i32)
    (local $end i32) (local $blocks i32) (local $i i32)
    ;; Padding: 0x80, zeros, then the bit length of ipad block + message (the top 32 bits stay 0).
    (local.set $blocks (i32.shr_u (i32.add (local.get $len) (i32.const 72)) (i32.const 6)))
    (local.set $end (i32.add (i32.const 8192) (i32.shl (local.get $blocks) (i32.const 6))))
    (memory.fill (i32.add (i32.const 8192) (local.get $len)) (i32.const 0)
      (i32.sub (local.get $end) (i32.add (i32.const 8192) (local.get $len))))
    (i32.store8 (i32.add (i32.const 8192) (local.get $len)) (i32.const 0x80))
    (i32.store (i32.sub (local.get $end) (i32.const 4))
      (call $bswap (i32.shl (i32.add (local.get $len) (i32.const 64)) (i32.const 3))))
    (memory.copy (i32.const 0) (local.get $key) (i32.const 32))
    (loop $inner
      (call $compress (i32.const 0) (i32.add (i32.const 8192) (i32.shl (local.get $i) (i32.const 6))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $inner (i32.lt_u (local.get $i) (local.get $blocks))))
    ;; Outer block: the inner digest (big-endian), 0x80, zeros, bit length 768 (64 + 32 bytes).
    (local.set $i (i32.const 0))
    (loop $digest
      (i32.store offset=768 (local.get $i) (call $bswap (i32.load (local.get $i))))
      (local.set $i (i32.add (local.get $i) (i32.const 4)))
      (br_if $digest (i32.lt_u (local.get $i) (i32.const 32))))
    (memory.fill (i32.const 800) (i32.const 0) (i32.const 32))
    (i32.store8 (i32.const 800) (i32.const 0x80))
    (i32.store (i32.const 828) (call $bswap (i32.const 768)))
    (memory.copy (i32.const 0) (i32.add (local.get $key) (i32.const 32)) (i32.const 32))
    (call $compress (i32.const 0) (i32.const 768))
    (local.set $i (i32.const 0))
    (loop $out
      (i32.store offset=64 (local.get $i) (call $bswap (i32.load (local.get $i))))
      (local.set $i (i32.add (local.get $i) (i32.const 4)))
      (br_if $out (i32.lt_u (local.get $i) (i32.const 32)))))
)
