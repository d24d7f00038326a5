"""Channels: publish an agent to a generic webhook channel, send it a message the way an outside
system would (signed with the channel's secret), read the answer and the channel's log, unbind."""

import hashlib
import hmac
import json
import time
import urllib.request

import cozeplus_sdk as sdk
from common import client, personal_space

with client() as api:
    agents = sdk.AgentApi(api)
    bot_id = agents.open_create_bot(
        sdk.OpenBotCreateRequest.from_dict({"space_id": personal_space(api), "name": "Example channel agent"})
    ).data.bot_id
    agents.open_publish_bot(
        sdk.OpenPublishBotRequest.from_dict({"bot_id": bot_id, "connector_ids": ["1024"]})
    )
    channels = sdk.ChannelApi(api)
    print("types:", ", ".join(t.type for t in channels.channel_types().data.types))

    # reply_mode "sync" (the default) answers in the callback's response
    made = channels.channel_create(
        sdk.ChannelCreateRequest.from_dict({"bot_id": bot_id, "type": "webhook", "config": {}})
    ).data
    secret = made.secrets["secret"]  # shown once, at creation
    print("bound channel", made.id)

    # what the outside system sends: X-Cozeplus-Signature t=<unix time>,v1=HMAC-SHA256(secret, "<t>.<body>")
    body = json.dumps({"user_id": "crm-42", "text": "Hello from a webhook", "message_id": "m-1"})
    stamp = str(int(time.time()))
    signature = hmac.new(secret.encode(), f"{stamp}.{body}".encode(), hashlib.sha256).hexdigest()
    # the outside system is no SDK user: a plain POST of the signed bytes, as they are
    request = urllib.request.Request(
        f"{api.configuration.host}/api/channel/callback/{made.id}",
        data=body.encode(),
        headers={"Content-Type": "application/json", "X-Cozeplus-Signature": f"t={stamp},v1={signature}"},
    )
    with urllib.request.urlopen(request) as reply:
        print("answer:", json.load(reply)["data"]["answer"])
    logged = channels.channel_messages(sdk.ChannelMessagesRequest.from_dict({"id": made.id})).data
    print("messages logged:", logged.total)

    channels.channel_delete(sdk.ChannelDeleteRequest.from_dict({"id": made.id}))
    agents.delete_bot(sdk.BotIdRequest.from_dict({"bot_id": bot_id}))
    print(f"unbound channel {made.id} and deleted agent {bot_id}")
