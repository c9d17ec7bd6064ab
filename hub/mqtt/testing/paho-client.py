#!/usr/bin/python3
# Home Assistant's MQTT client library (paho-mqtt, Debian's python3-paho-mqtt 1.6) driven by a test: argv[1]
# is a JSON scenario; every event is printed as one JSON line. Connect (MQTT 5 or 3.1.1, TCP, TLS or
# WebSocket), subscribe, publish, wait for `expect` messages, then disconnect, or with `hold` stay
# connected until killed (so the broker publishes the will).
import json
import ssl
import sys
import threading

import paho.mqtt.client as mqtt
from paho.mqtt.properties import Properties
from paho.mqtt.packettypes import PacketTypes

cfg = json.loads(sys.argv[1])
v5 = cfg.get("version", 5) == 5
out_lock = threading.Lock()


def emit(**event):
    with out_lock:
        print(json.dumps(event), flush=True)


def code(rc):
    return rc.value if hasattr(rc, "value") else rc


client = mqtt.Client(
    client_id=cfg.get("clientId", ""),
    protocol=mqtt.MQTTv5 if v5 else mqtt.MQTTv311,
    transport=cfg.get("transport", "tcp"),
    **({} if v5 else {"clean_session": True}),
)
if cfg.get("transport") == "websockets":
    client.ws_set_options(path=cfg.get("path", "/mqtt"))
if cfg.get("ca"):
    client.tls_set(ca_certs=cfg["ca"], cert_reqs=ssl.CERT_REQUIRED)
if cfg.get("username") is not None:
    client.username_pw_set(cfg["username"], cfg.get("password"))
will = cfg.get("will")
if will:
    props = None
    if v5 and will.get("delay") is not None:
        props = Properties(PacketTypes.WILLMESSAGE)
        props.WillDelayInterval = will["delay"]
    client.will_set(will["topic"], will["payload"], qos=will.get("qos", 0), retain=will.get("retain", False), properties=props)

received = 0
done = threading.Event()
subscribed = threading.Event()


def on_connect(c, userdata, flags, rc, properties=None):
    emit(event="connack", rc=code(rc))
    if code(rc) != 0:
        subscribed.set()
        done.set()
        return
    subs = [(f, q) for f, q in cfg.get("subscribe", [])]
    if subs:
        c.subscribe(subs)
    else:
        subscribed.set()


def on_subscribe(c, userdata, mid, granted, properties=None):
    emit(event="suback", granted=[code(g) for g in granted])
    subscribed.set()


def on_message(c, userdata, msg):
    global received
    props = {}
    if v5 and msg.properties is not None:
        p = msg.properties
        if hasattr(p, "ContentType"):
            props["contentType"] = p.ContentType
        if hasattr(p, "UserProperty"):
            props["userProperties"] = [list(x) for x in p.UserProperty]
    emit(event="message", topic=msg.topic, payload=msg.payload.decode("utf-8", "replace"), qos=msg.qos, retain=bool(msg.retain), properties=props)
    received += 1
    if received >= cfg.get("expect", 0):
        done.set()


def on_publish(c, userdata, mid):
    emit(event="published", mid=mid)


def on_disconnect(c, userdata, rc, properties=None):
    emit(event="disconnect", rc=code(rc))
    done.set()


client.on_connect = on_connect
client.on_subscribe = on_subscribe
client.on_message = on_message
client.on_publish = on_publish
client.on_disconnect = on_disconnect

try:
    client.connect(cfg.get("host", "127.0.0.1"), cfg["port"], keepalive=30, **({"clean_start": True} if v5 else {}))
except Exception as e:  # noqa: BLE001 - reported to the test
    emit(event="error", error=str(e))
    sys.exit(2)
client.loop_start()
subscribed.wait(cfg.get("timeout", 10))
for p in cfg.get("publish", []):
    props = None
    if v5 and p.get("contentType"):
        props = Properties(PacketTypes.PUBLISH)
        props.ContentType = p["contentType"]
    client.publish(p["topic"], p["payload"], qos=p.get("qos", 0), retain=p.get("retain", False), properties=props)
if cfg.get("expect", 0) > 0:
    done.wait(cfg.get("timeout", 10))
emit(event="ready")
if cfg.get("hold"):
    threading.Event().wait(60)
client.disconnect()
client.loop_stop()
emit(event="end")
