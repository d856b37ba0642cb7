"""After the stream: what a session leads to — who to follow up and how, whether its returning
customers kept buying, and how it compares with the brand's regular sessions."""
